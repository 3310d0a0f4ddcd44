"""The task launcher: each run a fresh fork, never of user code, and what its faults do.

The engine runs in this process (time injected); the launcher and every task process
are real processes, as in a worker.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from plugins.builtin import launcher_client
from plugins.core import ErrorKind, Phase
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.helpers import parent_pid, process_ended, wait_for
from tests.tasks import sample
from tests.tasks.sample import warm_up_traces

WORKER_SECRET = "redis://:hunter2-worker-password@10.0.0.1:6379/0"


def run(h: Harness, task, inputs=None):  # type: ignore[no-untyped-def]
    ex = h.client.submit(task, inputs or {})
    h.drain()
    return ex.result(timeout=1)


def launcher_of(h: Harness) -> int:
    """The launcher serving this process's runs (it is every task process's parent)."""
    return int(run(h, sample.lineage)["ppid"])


def kill_launcher(h: Harness) -> int:
    launcher = launcher_of(h)
    os.kill(launcher, signal.SIGKILL)
    wait_for(lambda: process_ended(launcher), timeout=30, what="the launcher to die")
    return launcher


def test_each_run_is_a_fresh_fork_of_one_launcher_in_a_session_of_its_own(
    harness_factory,
) -> None:
    h: Harness = harness_factory()
    first, second = run(h, sample.lineage), run(h, sample.lineage)
    assert first["ppid"] == second["ppid"] != os.getpid()
    assert first["pid"] != second["pid"]
    for seen in (first, second):
        assert seen["pid"] == seen["pgid"] == seen["sid"]  # the worker kills this group
    command = Path(f"/proc/{first['ppid']}/cmdline").read_bytes().split(b"\0")
    assert b"plugins.builtin.launcher" in b" ".join(command)
    assert parent_pid(first["ppid"]) == os.getpid()  # one launcher per worker process


def test_the_launcher_never_imports_user_code(harness_factory) -> None:
    # Each run starts without any user module: it imports its own, fresh.
    h: Harness = harness_factory()
    for _ in range(2):
        assert run(h, sample.user_modules) == ["tests", "tests.tasks", "tests.tasks.sample"]


def test_the_launcher_warms_up_on_its_own_task_and_leaves_no_trace_of_it(
    harness_factory, caplog: pytest.LogCaptureFixture
) -> None:
    h: Harness = harness_factory()
    with caplog.at_level("WARNING", logger="flyte_celery.task"):
        assert run(h, warm_up_traces) == []
        assert run(h, warm_up_traces) == []
    # The launcher reports a warm-up that failed; it did not.
    assert not [r for r in caplog.records if "warm-up" in r.getMessage()]
    # Its folder is its last argument; the warm-up worked in it, and removed its part.
    folder = Path(f"/proc/{launcher_of(h)}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")[-1]
    assert Path(folder.decode()).is_dir()
    assert not (Path(folder.decode()) / "warm-up").exists()


def test_a_task_cannot_look_into_its_launcher(harness_factory) -> None:
    h: Harness = harness_factory()
    seen = run(h, sample.inspection)
    # The probe's control: a process the task starts (same account, no capabilities, as
    # the launcher has none either) reads the task, which is dumpable as a fresh one is.
    assert seen["own_environ_by_its_child"]
    # The launcher, the task's parent, is not: nothing of it can be read or traced. Nor
    # the process it forked ahead for the next run (the task could plant code there).
    assert not seen["parent_environ"]
    assert not seen["parent_mem"]
    assert seen["siblings"]
    assert not seen["sibling_mem"]


def test_a_launcher_holds_none_of_the_workers_secrets(
    harness_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h: Harness = harness_factory()
    kill_launcher(h)  # the next run starts one with the environment below
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", WORKER_SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-worker-key-0123")
    launcher = launcher_of(h)
    try:
        environ = Path(f"/proc/{launcher}/environ").read_bytes()
    except PermissionError:
        assert os.geteuid() != 0  # only root may read a non-dumpable process
        return
    assert WORKER_SECRET.encode() not in environ and b"aws-worker-key" not in environ
    assert b"PATH=" in environ


def test_a_killed_launcher_is_replaced_for_the_next_run(harness_factory) -> None:
    h: Harness = harness_factory()
    first = kill_launcher(h)
    second = launcher_of(h)
    assert second != first
    assert run(h, sample.add, {"a": 1, "b": 2}) == 3


def test_a_launcher_that_dies_during_a_run_fails_it_clearly_and_takes_its_task_along(
    harness_factory, tmp_path: Path
) -> None:
    h: Harness = harness_factory()
    marker = tmp_path / "held.pid"
    ex = h.client.submit(sample.hold_once, {"marker": str(marker)})
    worker = threading.Thread(target=h.drain)
    worker.start()
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=60, what="the task")
    task = int(marker.read_text())
    launcher = parent_pid(task)
    os.kill(launcher, signal.SIGKILL)
    worker.join(60)
    assert not worker.is_alive()
    wait_for(
        lambda: process_ended(task), timeout=30, what="the task process to end with its launcher"
    )
    err = ex.refresh().error()
    assert err is not None and err.kind is ErrorKind.SYSTEM
    assert err.code == "TaskLauncherFailed"
    assert f"the task launcher (pid {launcher}) was killed by signal 9 while the task ran" in (
        err.message
    )
    # The attempt is retried on a new launcher, where the task now returns at once.
    h.until(finished(ex))
    assert ex.result(timeout=1) == 1
    assert launcher_of(h) != launcher


def test_a_launcher_that_cannot_start_fails_the_run_naming_why(
    harness_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    h: Harness = harness_factory()
    kill_launcher(h)
    broken = "import sys; print('no launcher today', flush=True); sys.exit(5)"
    monkeypatch.setattr(launcher_client, "BOOTSTRAP", broken)
    ex = h.client.submit(sample.add, {"a": 1, "b": 2})
    h.drain()
    err = ex.refresh().error()
    assert err is not None and err.kind is ErrorKind.SYSTEM and err.code == "TaskLauncherFailed"
    assert "the task launcher could not start: it exited with code 5" in err.message
    assert "no launcher today" in err.message
    monkeypatch.undo()
    # The next attempt starts a launcher again, and this one works.
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.SUCCESS and ex.result(timeout=1) == 3
