"""The task's own process: ``python -m plugins.builtin.task_child <folder> <worker pid>``.

Or a process the task launcher forked, which calls :func:`run_folder`. The worker
prepared ``<folder>``: ``task.pb`` (the template), ``inputs.pb`` (inputs whose files are
local), and ``context.json`` (execution id, attempt). This process has no storage
options, none of the worker's environment and no privileges: its files go to the
folder's ``raw`` directory and the worker uploads them. It writes ``outputs.pb`` and then
``outcome.json``; the worker reads nothing else. User code is read from its source (see
:mod:`plugins.tasks.sources`). If the worker dies, this process notices within a second
and ends, with the processes it started, so a killed job leaves no orphan.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin.privileges import drop_privileges
from plugins.builtin.task_run import Outcome, Status, run_task
from plugins.core.secrets import EnvSecretManager
from plugins.io import DataStore
from plugins.tasks.context import ExecutionParameters
from plugins.tasks.sources import read_user_code_fresh
from plugins.tasks.types import TransformContext

__all__ = ["ORPHAN_EXIT_CODE", "main", "orphaned", "run_folder", "watch_parent"]

ORPHAN_EXIT_CODE = 70
"""The exit code when the worker went away (the task's result has no one to go to)."""


def orphaned() -> NoReturn:
    """End this task process, and the helpers it started in its group: its worker is gone."""
    if os.getpgid(0) == os.getpid():  # it leads its own group, as a task process does
        os.killpg(0, signal.SIGKILL)
    os._exit(ORPHAN_EXIT_CODE)


def watch_parent(worker_pid: int) -> None:
    """End this process when its parent, the worker, is gone (run it on a daemon thread).

    A worker killed by its hard time limit (SIGKILL) cannot stop this process; its parent
    changing is the sign. Polling works on every platform.
    """
    while os.getppid() == worker_pid:
        time.sleep(0.5)
    orphaned()


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)


def run_folder(folder: Path, *, privileges_dropped: bool = False) -> None:
    """Run the task the folder describes; the outcome goes to ``outcome.json``.

    Args:
        folder: The folder the worker prepared.
        privileges_dropped: They were, by a process this one was forked from.
    """
    try:
        if not privileges_dropped:
            drop_privileges()
    except PermissionError as exc:
        # Running user code with root's capabilities would expose the worker: refuse.
        refused = Outcome(Status.FAILED, "PrivilegesNotDropped", str(exc), True, user=False)
        _write_atomically(folder / "outcome.json", json.dumps(refused.to_json()).encode())
        return
    template = tasks_pb2.TaskTemplate.FromString((folder / "task.pb").read_bytes())
    inputs = literals_pb2.LiteralMap.FromString((folder / "inputs.pb").read_bytes())
    context = json.loads((folder / "context.json").read_text())
    params = ExecutionParameters(
        transform=TransformContext(store=DataStore(), raw_output_prefix=f"file://{folder}/raw"),
        execution_id=str(context["execution_id"]),
        attempt=int(context["attempt"]),
        secrets=EnvSecretManager(),
        is_local=False,
    )
    # The environment the worker built is this process's own: nothing to set or undo.
    outcome, outputs = run_task(template, params, inputs)
    _write_atomically(folder / "outputs.pb", outputs.SerializeToString())
    _write_atomically(folder / "outcome.json", json.dumps(outcome.to_json()).encode())


def main(argv: list[str] | None = None) -> int:
    """Watch the worker, then run the task the folder describes."""
    folder, worker_pid = Path((argv or sys.argv)[1]), int((argv or sys.argv)[2])
    threading.Thread(target=watch_parent, args=(worker_pid,), daemon=True).start()
    read_user_code_fresh()
    run_folder(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
