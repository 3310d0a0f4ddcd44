"""What a running task can see about itself: :func:`current_context`.

A task body (or a plugin author's ``execute``) calls :func:`current_context` to
learn its execution id, attempt, secrets and where to put large data. Locally
the values describe a local run.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

from plugins.core.secrets import EnvSecretManager, SecretManager
from plugins.tasks.types import TransformContext

__all__ = ["ExecutionParameters", "current_context"]


@dataclass(frozen=True)
class ExecutionParameters:
    """The run-time view of one execution of a task (flytekit's ``ExecutionParameters``).

    Attributes:
        transform: Storage and raw-output prefix for File and Directory values.
        execution_id: ``project/domain/name``; ``local`` for a local call.
        attempt: The attempt, from 0.
        task_name: The task's name.
        secrets: Reads the secrets the deployment provides.
        is_local: Whether this is a local call rather than a worker run.
    """

    transform: TransformContext
    execution_id: str = "local"
    attempt: int = 0
    task_name: str = ""
    secrets: SecretManager = field(default_factory=EnvSecretManager)
    is_local: bool = True

    @property
    def raw_output_prefix(self) -> str:
        """Where File and Directory outputs are uploaded."""
        return self.transform.raw_output_prefix

    @classmethod
    def local(cls, task_name: str = "") -> ExecutionParameters:
        """Parameters for a local call: a process-wide temporary raw-output prefix."""
        return cls(transform=TransformContext.local(), task_name=task_name)


_CURRENT: contextvars.ContextVar[ExecutionParameters | None] = contextvars.ContextVar(
    "flyte_celery_execution_parameters", default=None
)


def current_context() -> ExecutionParameters:
    """The parameters of the task running now; local ones outside a task."""
    params = _CURRENT.get()
    return params if params is not None else ExecutionParameters.local()


@contextlib.contextmanager
def running(params: ExecutionParameters) -> Iterator[ExecutionParameters]:
    """Make ``params`` what :func:`current_context` returns inside the block."""
    token = _CURRENT.set(params)
    try:
        yield params
    finally:
        _CURRENT.reset(token)
