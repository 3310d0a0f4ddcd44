"""The launcher's warm-up: it runs a task of its own, so that its forks start warm.

Every task process begins as a copy of the launcher, and each memory page it writes is
copied for it first. A run's first passes through the task runtime write a lot that a
later pass does not: Python specializes the bytecode of each function it runs a few
times, and the runtime fills caches on first use (type transformers, type hints, import
finders). Done once in the launcher, before its ``gc.freeze``, that work is shared by
every fork instead of repeated, and copied, in each.

The task is flyte-celery's own, written by this module into the launcher's folder and
imported from there the way a user's task module is (a folder on the import path, read
from its source), then forgotten: no user code runs in the launcher, and nothing of the
warm-up is left for a task process to find.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import sys
from pathlib import Path

from flyteidl.core import literals_pb2

from plugins.builtin.task_child import run_folder
from plugins.tasks.base import SerializationSettings
from plugins.tasks.resolver import TASK_PATHS_VARIABLE

__all__ = ["ROUNDS", "warm_up"]

ROUNDS = 24
"""Runs of the warm-up task: more than the calls after which Python specializes a function."""

_MODULE = "flyte_celery_launcher_warm_up"
_SOURCE = '''"""The task launcher's warm-up task (written and removed by the launcher)."""

from plugins.tasks import task


@task
def warm_up(x: int) -> int:
    return x + 1
'''


def warm_up(folder: Path, rounds: int = ROUNDS) -> None:
    """Run the warm-up task ``rounds`` times in this process, then forget it.

    Args:
        folder: A private folder to work in; it is removed afterwards.
        rounds: How many runs.

    Raises:
        RuntimeError: A run did not succeed (the launcher reports it and goes on cold).
    """
    code = folder / "code"
    run = folder / "run"
    code.mkdir(parents=True)
    (run / "raw").mkdir(parents=True)
    source = code / f"{_MODULE}.py"
    source.write_text(_SOURCE)
    saved_paths = os.environ.get(TASK_PATHS_VARIABLE)
    os.environ[TASK_PATHS_VARIABLE] = str(code)
    sys.path.insert(0, str(code))
    try:
        module = importlib.import_module(_MODULE)
        template = module.warm_up.to_task_template(SerializationSettings())
        (run / "task.pb").write_bytes(template.SerializeToString())
        inputs = literals_pb2.LiteralMap()
        inputs.literals["x"].scalar.primitive.integer = 1
        (run / "inputs.pb").write_bytes(inputs.SerializeToString())
        (run / "context.json").write_text(json.dumps({"execution_id": "warm-up", "attempt": 0}))
        for _ in range(rounds):
            sys.modules.pop(_MODULE, None)  # each run imports it, as a task process does
            run_folder(run, privileges_dropped=True)
            outcome = json.loads((run / "outcome.json").read_text())
            if outcome.get("status") != "succeeded":
                raise RuntimeError(f"the warm-up task failed: {outcome.get('message')}")
    finally:
        sys.modules.pop(_MODULE, None)
        with contextlib.suppress(ValueError):
            sys.path.remove(str(code))
        sys.path_importer_cache.pop(str(code), None)
        if saved_paths is None:
            os.environ.pop(TASK_PATHS_VARIABLE, None)
        else:
            os.environ[TASK_PATHS_VARIABLE] = saved_paths
        shutil.rmtree(folder, ignore_errors=True)
