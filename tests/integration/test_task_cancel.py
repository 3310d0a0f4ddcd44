"""Task processes on a real worker: an abort or a timeout stops them at once and frees the slot.

Our own ``@task`` functions and flytekit's templates (``pyflyte-execute``) alike.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plugins.core import Phase
from tests.flytekit import fktasks
from tests.flytekit.serialize import literals, template
from tests.helpers import wait_for
from tests.integration.stack import Stack
from tests.tasks import sample


def _running(marker: Path) -> int:
    wait_for(lambda: marker.exists() and marker.read_text(), timeout=120, what="the task to start")
    return int(marker.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("how", ["abort", "timeout", "abort-flytekit"])
def test_the_task_process_is_killed_and_the_slot_freed(
    one_slot: Stack, tmp_path: Path, how: str
) -> None:
    marker = tmp_path / f"{how}.pid"
    with one_slot.client() as client:
        if how == "abort-flytekit":
            ex = client.submit(template(fktasks.hold), literals(marker=str(marker)))
        else:
            task = sample.hold if how == "abort" else sample.hold_past_timeout
            ex = client.submit(task, {"marker": str(marker)})
        pid = _running(marker)
        if how.startswith("abort"):
            ex.abort("not needed any more")
        assert ex.wait(120) in (Phase.ABORTED, Phase.PERMANENT_FAILURE)
        wait_for(lambda: _gone(pid), timeout=60, what="the task's process to be killed")
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
