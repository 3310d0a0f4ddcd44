"""One run of a ``python-task``: load the task, run it, and say how it went.

Shared by both places a task can run: inside the worker (isolation ``none``) and in
the task's own process (isolation ``process``, the default). The outcome is plain
data, so the task's process can hand it to the worker as JSON.
"""

from __future__ import annotations

import enum
import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import ErrorKind, ExecutionError, Phase, PhaseInfo
from plugins.errors import InputConversionError, OutputConversionError, TaskLoadError
from plugins.idl import struct_to_dict
from plugins.tasks.base import IgnoreOutputs, Task
from plugins.tasks.context import ExecutionParameters
from plugins.tasks.function import PYTHON_TASK_TYPE
from plugins.tasks.resolver import load_resolver, loading_task_code

__all__ = ["Outcome", "Status", "load_task_from_template", "run_task", "task_environment"]


class Status(enum.Enum):
    """How a run ended."""

    SUCCEEDED = "succeeded"
    """The task returned; its outputs are to be written."""
    IGNORED = "ignored"
    """The task raised ``IgnoreOutputs``: success without outputs."""
    FAILED = "failed"
    """The task (or loading it) failed; the error says how."""


@dataclass(frozen=True)
class Outcome:
    """The result of one run, without its outputs.

    Attributes:
        status: How it ended.
        code: The error code, for a failure.
        message: The error message, for a failure.
        permanent: Whether retrying cannot help (a failure consumes no retry then).
        user: Whether the user's code is to blame (else the platform is).
    """

    status: Status
    code: str = ""
    message: str = ""
    permanent: bool = False
    user: bool = True

    def to_phase_info(self) -> PhaseInfo:
        """The PhaseInfo for this outcome (SUCCESS for both kinds of success)."""
        if self.status is not Status.FAILED:
            return PhaseInfo.success()
        phase = Phase.PERMANENT_FAILURE if self.permanent else Phase.RETRYABLE_FAILURE
        kind = ErrorKind.USER if self.user else ErrorKind.SYSTEM
        return PhaseInfo.failed(phase, ExecutionError(self.code, self.message, kind=kind))

    def to_json(self) -> dict[str, Any]:
        """This outcome as JSON-ready data."""
        return {**asdict(self), "status": self.status.value}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Outcome:
        """The outcome :meth:`to_json` made.

        Raises:
            ValueError: ``data`` is not such an outcome.
        """
        try:
            return cls(
                status=Status(data["status"]),
                code=str(data.get("code", "")),
                message=str(data.get("message", "")),
                permanent=bool(data.get("permanent", False)),
                user=bool(data.get("user", True)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a task outcome: {exc}") from exc

    @classmethod
    def user_failure(cls, task_name: str, exc: BaseException) -> Outcome:
        """A retryable USER failure carrying ``exc``'s traceback."""
        trace = "".join(traceback.format_exception(exc))
        message = f"Error encountered while executing '{task_name}':\n{trace}"
        return cls(Status.FAILED, code=f"USER:{type(exc).__name__}", message=message)


def load_task_from_template(custom: Mapping[str, Any]) -> Task:
    """The task a ``python-task`` template's ``custom`` field names.

    Raises:
        TaskLoadError: ``custom`` lacks the resolver or its arguments, or loading fails.
    """
    resolver = custom.get("resolver")
    loader_args = custom.get("loader_args")
    if not isinstance(resolver, str) or not isinstance(loader_args, list):
        raise TaskLoadError(
            "a python-task template needs custom.resolver (a string) and "
            f"custom.loader_args (a list), got {sorted(custom)}"
        )
    with loading_task_code():
        return load_resolver(resolver).load_task([str(a) for a in loader_args])


def task_environment(template: tasks_pb2.TaskTemplate) -> dict[str, str]:
    """The environment variables the template's ``custom.environment`` asks for."""
    custom = struct_to_dict(template.custom) if template.HasField("custom") else {}
    environment = custom.get("environment")
    if not isinstance(environment, dict):
        return {}
    return {str(k): str(v) for k, v in environment.items()}


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    # A prefork worker child runs one job at a time, so a process-wide change is safe;
    # it is undone afterwards so the next job starts clean.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_task(
    template: tasks_pb2.TaskTemplate,
    params: ExecutionParameters,
    inputs: literals_pb2.LiteralMap,
    environment: Mapping[str, str] | None = None,
) -> tuple[Outcome, literals_pb2.LiteralMap]:
    """Load and run the template's task; every failure becomes an :class:`Outcome`.

    Args:
        template: A ``python-task`` template.
        params: The run-time parameters; their ``task_name`` is replaced by the task's.
        inputs: The input literals.
        environment: Variables set while the task runs (and unset afterwards).

    Returns:
        The outcome and the output literals (empty unless it succeeded).
    """
    custom = struct_to_dict(template.custom) if template.HasField("custom") else {}
    empty = literals_pb2.LiteralMap()
    try:
        task = load_task_from_template(custom)
    except TaskLoadError as exc:
        return Outcome(Status.FAILED, code=exc.code, message=exc.message, permanent=True), empty
    except (Exception, SystemExit) as exc:
        # Importing the user's module raised: a user error, with its traceback.
        return Outcome.user_failure(template.id.name or PYTHON_TASK_TYPE, exc), empty
    params = replace(params, task_name=task.name)
    try:
        with _environment(environment or {}):
            outputs = task.dispatch_execute(params, inputs)
    except IgnoreOutputs:
        return Outcome(Status.IGNORED), empty
    except (InputConversionError, OutputConversionError) as exc:
        # Retrying cannot change what the values are: fail for good.
        return Outcome(Status.FAILED, code=exc.code, message=exc.message, permanent=True), empty
    except (Exception, SystemExit) as exc:
        # sys.exit() in a task fails the task, not the process that runs it.
        return Outcome.user_failure(task.name, exc), empty
    return Outcome(Status.SUCCEEDED), outputs
