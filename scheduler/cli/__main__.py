"""``python -m scheduler.cli``: the ``flyte-celery`` command."""

from __future__ import annotations

import sys

from scheduler.cli.app import main

sys.exit(main())
