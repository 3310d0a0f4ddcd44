"""Benchmarks are collected only on request: FLYTE_CELERY_BENCHMARKS=1.

They are not skipped tests: the default run does not collect them at all. Run them with
``FLYTE_CELERY_BENCHMARKS=1 bash tests/run.sh tests/benchmarks -s``. Each prints its
figures as a ratio against raw Redis or raw Celery measured in the same run, because
absolute numbers on shared machines mean little.
"""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("FLYTE_CELERY_BENCHMARKS") == "1" else ["test_*.py"]
