"""The steps a worker runs, one method per job.

:class:`Steps` is what ``worker.jobs`` calls: each Celery job is a thin wrapper
around one of its methods, so the same steps run inline in tests and in
:mod:`scheduler.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scheduler.model import Claim, Step
from scheduler.runtime import Runtime
from scheduler.steps.core import CoreSteps
from scheduler.steps.leases import RunLeaseHolder
from scheduler.steps.teardown import Teardown
from scheduler.steps.webapi import WebAPISteps
from scheduler.steps.writeback import WriteBack

__all__ = ["Steps"]


class Steps:
    """Runs claimed steps of executions.

    Args:
        runtime: The process's runtime; its clock and retry policy apply.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.writeback = WriteBack(runtime)
        self.leases = RunLeaseHolder(runtime)
        self._webapi = WebAPISteps(self.writeback)
        self._core = CoreSteps(self.writeback)
        self._teardown = Teardown(self.writeback, self._core)

    def _once(self, step: Step, execution_id: str, attempt: int, run: Callable[[], None]) -> None:
        # Every step runs under its run lease: never twice at once, and re-run soon if its
        # worker dies.
        with self.leases.hold([(execution_id, Claim(step, attempt))]) as held:
            if held:
                run()

    def create(self, execution_id: str, attempt: int) -> None:
        """Create the remote resource of an attempt."""
        self._once(
            Step.CREATE, execution_id, attempt, lambda: self._webapi.create(execution_id, attempt)
        )

    def do(self, execution_id: str, attempt: int) -> None:
        """Run a sync plugin's one call."""
        self._once(Step.DO, execution_id, attempt, lambda: self._webapi.do(execution_id, attempt))

    def get(self, items: Sequence[tuple[str, int]]) -> None:
        """Get a batch of ``(execution id, attempt)``."""
        with self.leases.hold([(i, Claim(Step.GET, a)) for i, a in items]) as held:
            self._webapi.get([(i, a) for i, a in items if i in held])

    def delete(self, execution_id: str, attempt: int) -> None:
        """Tear down an attempt being aborted or timed out, then finalize it."""
        self._once(
            Step.DELETE,
            execution_id,
            attempt,
            lambda: self._teardown.delete(execution_id, attempt),
        )

    def handle(self, execution_id: str, attempt: int) -> None:
        """Run one round of a core plugin."""
        self._once(
            Step.HANDLE, execution_id, attempt, lambda: self._core.handle(execution_id, attempt)
        )

    def run(self, step: Step, args: Sequence[Any]) -> None:
        """Run a job's step with the arguments it was published with.

        Raises:
            ValueError: ``args`` do not fit ``step``.
        """
        if step is Step.GET:
            (items,) = args
            self.get([(str(i), int(a)) for i, a in items])
            return
        execution_id, attempt = args
        method = {
            Step.CREATE: self.create,
            Step.DO: self.do,
            Step.DELETE: self.delete,
            Step.HANDLE: self.handle,
        }[step]
        method(str(execution_id), int(attempt))
