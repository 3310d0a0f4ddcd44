"""Task processes on a real worker: an abort, a timeout or a killed worker stops them at once.

Our own ``@task`` functions and flytekit's templates (``pyflyte-execute``) alike, forked
by the worker's task launcher (the default) or spawned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import Client, Execution
from tests.flytekit import fktasks
from tests.flytekit.serialize import literals, template
from tests.helpers import RedisServer, parent_pid, process_ended, wait_for
from tests.integration.stack import Stack
from tests.tasks import sample


def _running(marker: Path) -> int:
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=120, what="the task to start")
    return int(marker.read_text().split()[0])


HOLDING = {
    "abort": sample.hold,
    "timeout": sample.hold_past_timeout,
    "abort-flytekit": fktasks.hold,
    "task": sample.hold_with_helper,
    "flytekit": fktasks.hold_with_helper,
}
"""Tasks that hold until they are stopped, by test case."""


def _submit(client: Client, case: str, marker: Path) -> Execution:
    task = HOLDING[case]
    if case.endswith("flytekit"):
        return client.submit(template(task), literals(marker=str(marker)))
    return client.submit(task, {"marker": str(marker)})


@pytest.mark.parametrize("how", ["abort", "timeout", "abort-flytekit"])
def test_the_task_process_is_killed_and_the_slot_freed(
    one_slot: Stack, tmp_path: Path, how: str
) -> None:
    marker = tmp_path / f"{how}.pid"
    with one_slot.client() as client:
        ex = _submit(client, how, marker)
        pid = _running(marker)
        if how.startswith("abort"):
            ex.abort("not needed any more")
        assert ex.wait(120) in (Phase.ABORTED, Phase.PERMANENT_FAILURE)
        wait_for(lambda: process_ended(pid), timeout=60, what="the task's process to be killed")
        # The single slot is free: the next task runs now, not in ten minutes.
        assert client.submit(sample.add, {"a": 1, "b": 2}).result(timeout=120) == 3
    expected = "ABORTED" if how.startswith("abort") else "TimedOut"
    error = ex.error()
    assert ex.phase.name == expected or (error is not None and error.code == expected)


def test_a_flytekit_task_runs_on_a_worker(one_slot: Stack) -> None:
    with one_slot.client() as client:
        ex = client.submit(template(fktasks.double), literals(x=20))
        assert ex.wait(120) is Phase.SUCCESS, ex.error()
        assert ex.outputs().literals["o0"].scalar.primitive.integer == 40


@pytest.mark.parametrize("kind", ["task", "flytekit"])
def test_a_killed_worker_leaves_no_task_process_behind(
    one_slot: Stack, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / f"{kind}.pids"
    with one_slot.client() as client:
        _submit(client, kind, marker)
        _running(marker)
    task, helper = (int(p) for p in marker.read_text().split())
    launcher = parent_pid(task)
    assert b"plugins.builtin.launcher" in Path(f"/proc/{launcher}/cmdline").read_bytes()
    # SIGKILL to the worker's whole process group: no pool process has a chance to act.
    one_slot.kill("w1")
    for pid, what in ((task, "the task"), (helper, "its helper"), (launcher, "the launcher")):
        wait_for(lambda pid=pid: process_ended(pid), timeout=60, what=f"{what} ({pid}) to end")


def test_spawned_task_processes_are_stopped_too(redis_server: RedisServer, tmp_path: Path) -> None:
    stack = Stack(redis_server.url, tmp_path, "http://127.0.0.1:9")
    marker = tmp_path / "spawned.pid"
    try:
        stack.start_worker("w1", concurrency=1, env={"FLYTE_CELERY_TASK_LAUNCHER": "spawn"})
        stack.start_beat("beat")
        with stack.client() as client:
            ex = client.submit(sample.hold, {"marker": str(marker)})
            pid = _running(marker)
            # Spawned: a fresh interpreter whose parent is the pool process, no launcher.
            assert b"plugins.builtin.task_child" in Path(f"/proc/{pid}/cmdline").read_bytes()
            ex.abort("not needed any more")
            assert ex.wait(120) is Phase.ABORTED
            wait_for(lambda: process_ended(pid), timeout=60, what="the task's process to be killed")
            assert client.submit(sample.add, {"a": 1, "b": 2}).result(timeout=120) == 3
    finally:
        stack.stop()
