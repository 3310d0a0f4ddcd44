"""The worker's processes and beat hide what they inherit from the collector and collect less."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc
import importlib
app = importlib.import_module("worker.app")
gc.set_threshold(700, 10, 10)
before = gc.get_freeze_count()
app._collect_less()
print(gc.get_threshold()[0], before, gc.get_freeze_count() > before)
"""


def test_a_pool_process_or_beat_collects_the_young_generation_less_often() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    threshold, frozen_before, frozen_more = done.stdout.split()
    assert int(threshold) == 50_000 and frozen_before == "0" and frozen_more == "True"
