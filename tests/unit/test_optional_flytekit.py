"""flytekit is an optional extra: the product imports and loads its plugins without it."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
sys.modules["flytekit"] = None  # as if it were not installed: importing it fails
sys.modules["grpc"] = None  # the extra brings grpcio too
import plugins.builtin, scheduler, scheduler.cli, worker
from scheduler._runtime import PluginSet
ids = [loaded.id for loaded in PluginSet().load_all()]
assert "connector-service" not in ids and "flytekit-connectors" not in ids, ids
print("ok", "flytekit" in sys.modules and sys.modules["flytekit"] is not None)
"""


def test_the_core_runs_without_flytekit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok False"
