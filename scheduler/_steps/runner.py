"""The steps a worker runs, one method per job.

:class:`Steps` is what ``worker.jobs`` calls: each Celery job is a thin wrapper
around one of its methods, so the same steps run inline in tests and in
:mod:`scheduler.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from scheduler._model import Claim, Step
from scheduler._runtime import Runtime
from scheduler._steps.core import CoreSteps
from scheduler._steps.leases import RunLeaseHolder
from scheduler._steps.teardown import Teardown
from scheduler._steps.webapi import WebAPISteps
from scheduler._steps.writeback import WriteBack

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

    @staticmethod
    def claims(step: Step, args: Sequence[Any]) -> list[tuple[str, Claim]]:
        """The (execution id, claim) pairs a job of ``step`` with ``args`` serves.

        Raises:
            ValueError: ``args`` do not fit ``step``.
        """
        if step is Step.GET or (step is Step.CREATE and len(args) == 1):
            (items,) = args
            return [(str(i), Claim(step, int(a))) for i, a in items]
        execution_id, attempt = args
        return [(str(execution_id), Claim(step, int(attempt)))]

    def _once(
        self,
        step: Step,
        execution_id: str,
        attempt: int,
        run: Callable[[], None],
        owner: str | None,
    ) -> None:
        # Every step runs under its run lease: never twice at once, and re-run soon if its
        # worker dies.
        with self.leases.hold([(execution_id, Claim(step, attempt))], owner) as held:
            if held:
                run()

    def create(self, execution_id: str, attempt: int, *, owner: str | None = None) -> None:
        """Create the remote resource of an attempt (``owner``: who holds its run lease)."""
        self.create_many([(execution_id, attempt)], owner=owner)

    def create_many(self, items: Sequence[tuple[str, int]], *, owner: str | None = None) -> None:
        """Create the remote resources of a batch of ``(execution id, attempt)``."""
        with self.leases.hold([(i, Claim(Step.CREATE, a)) for i, a in items], owner) as held:
            self._webapi.create([(i, a) for i, a in items if i in held])

    def do(self, execution_id: str, attempt: int, *, owner: str | None = None) -> None:
        """Run a sync plugin's one call."""
        run = lambda: self._webapi.do(execution_id, attempt)  # noqa: E731
        self._once(Step.DO, execution_id, attempt, run, owner)

    def get(self, items: Sequence[tuple[str, int]], *, owner: str | None = None) -> None:
        """Get a batch of ``(execution id, attempt)``."""
        with self.leases.hold([(i, Claim(Step.GET, a)) for i, a in items], owner) as held:
            self._webapi.get([(i, a) for i, a in items if i in held])

    def delete(self, execution_id: str, attempt: int, *, owner: str | None = None) -> None:
        """Tear down an attempt being aborted or timed out, then finalize it."""
        run = lambda: self._teardown.delete(execution_id, attempt)  # noqa: E731
        self._once(Step.DELETE, execution_id, attempt, run, owner)

    def handle(self, execution_id: str, attempt: int, *, owner: str | None = None) -> None:
        """Run one round of a core plugin."""
        run = lambda: self._core.handle(execution_id, attempt)  # noqa: E731
        self._once(Step.HANDLE, execution_id, attempt, run, owner)

    def run(self, step: Step, args: Sequence[Any], *, owner: str | None = None) -> None:
        """Run a job's step with the arguments it was published with.

        A Get job and a Create job carry a batch, ``[[execution id, attempt], ...]``
        (a Create job of one execution may carry ``execution id, attempt``, as
        reconciliation publishes it); the others one execution.

        Raises:
            ValueError: ``args`` do not fit ``step``.
        """
        if step in (Step.GET, Step.CREATE):
            batch = self.claims(step, args)
            run = self.get if step is Step.GET else self.create_many
            run([(i, claim.attempt) for i, claim in batch], owner=owner)
            return
        execution_id, attempt = args
        method = {
            Step.DO: self.do,
            Step.DELETE: self.delete,
            Step.HANDLE: self.handle,
        }[step]
        method(str(execution_id), int(attempt), owner=owner)
