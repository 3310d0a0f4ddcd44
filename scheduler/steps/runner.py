"""The steps a worker runs, one method per job.

:class:`Steps` is what ``worker.jobs`` calls: each Celery job is a thin wrapper
around one of its methods, so the same steps run inline in tests and in
:mod:`scheduler.testing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scheduler.model import Step
from scheduler.runtime import Runtime
from scheduler.steps.core import CoreSteps
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
        self._webapi = WebAPISteps(self.writeback)
        self._core = CoreSteps(self.writeback)
        self._teardown = Teardown(self.writeback, self._core)

    def create(self, execution_id: str, attempt: int) -> None:
        """Create the remote resource of an attempt."""
        self._webapi.create(execution_id, attempt)

    def do(self, execution_id: str, attempt: int) -> None:
        """Run a sync plugin's one call."""
        self._webapi.do(execution_id, attempt)

    def get(self, items: Sequence[tuple[str, int]]) -> None:
        """Get a batch of ``(execution id, attempt)``."""
        self._webapi.get(list(items))

    def delete(self, execution_id: str, attempt: int) -> None:
        """Tear down an attempt being aborted or timed out, then finalize it."""
        self._teardown.delete(execution_id, attempt)

    def handle(self, execution_id: str, attempt: int) -> None:
        """Run one round of a core plugin."""
        self._core.handle(execution_id, attempt)

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
