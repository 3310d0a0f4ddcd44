"""A handle on one execution: its phase, events, outputs and :meth:`Execution.result`."""

from __future__ import annotations

import re
import time
from collections import namedtuple
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, Protocol

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import ExecutionError, Phase, PhaseInfo
from plugins.errors import ExecutionFailedError, ExecutionTimeoutError, FlyteCeleryError
from plugins.flytekit.values import guessed_python_value
from plugins.tasks import ExecutionParameters, TransformContext, TypeEngine
from scheduler._model import CacheStatus, Event, ExecutionRecord

__all__ = ["Execution", "ExecutionSource", "Waiter"]

_FIRST_POLL = timedelta(milliseconds=10)
_LAST_POLL = timedelta(milliseconds=250)
"""How often :meth:`Execution.wait` re-reads the record, at first and at most."""


class NativeTask(Protocol):
    """A task object whose results convert back through it (ours, or a flytekit task)."""

    def outputs_from_literal_map(
        self, params: ExecutionParameters, outputs: literals_pb2.LiteralMap
    ) -> Any:
        """The outputs as the task returns them."""
        ...


class Waiter(Protocol):
    """Wakes a waiting handle when the execution ends (or after ``timeout`` anyway)."""

    def wait(self, timeout: timedelta) -> object:
        """Return at the execution's end, or after ``timeout``."""
        ...


class ExecutionSource(Protocol):
    """What a handle reads and acts through: the :class:`~scheduler._client.Client` that made it.

    A protocol rather than the Client class, so the handle depends on what it uses: the
    Redis-backed :class:`~scheduler._client.Client` and the API's client
    (:class:`~scheduler._client.remote.RemoteClient`) both make handles.
    """

    def watch(self, exec_id: str) -> AbstractContextManager[Waiter]:
        """Listen for the execution's end while the block runs."""
        ...

    def template(self, record: ExecutionRecord) -> tasks_pb2.TaskTemplate:
        """The template the execution runs, as it was submitted."""
        ...

    def transform(self) -> TransformContext:
        """What converts outputs to Python values (reading blobs they point at)."""
        ...

    def record(self, exec_id: str) -> ExecutionRecord:
        """The stored record (raises ExecutionNotFoundError)."""
        ...

    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution."""
        ...

    def abort(self, exec_id: str, reason: str = ...) -> None:
        """Abort the execution."""
        ...

    def signal(self, exec_id: str) -> None:
        """Ask for a Get now."""
        ...

    def events(self, exec_id: str) -> list[Event]:
        """The execution's events, oldest first."""
        ...


class Execution:
    """A handle on one execution; :meth:`refresh` re-reads it.

    Attributes:
        id: ``project/domain/name``.
    """

    def __init__(
        self, client: ExecutionSource, record: ExecutionRecord, task: NativeTask | None = None
    ) -> None:
        self._client = client
        self._record = record
        self._task = task
        self.id = record.id

    def __repr__(self) -> str:
        return f"Execution({self.id!r}, phase={self.phase.name}, attempt={self.attempt})"

    @property
    def record(self) -> ExecutionRecord:
        """The stored record as last read."""
        return self._record

    @property
    def phase(self) -> Phase:
        """The phase of the execution as a whole.

        It is terminal only at SUCCESS, PERMANENT_FAILURE or ABORTED: a retryable
        failure moves on to the next attempt.
        """
        return self._record.phase

    @property
    def phase_info(self) -> PhaseInfo | None:
        """The last PhaseInfo reported for the current attempt."""
        info = self._record.phase_info
        return None if info is None else PhaseInfo.from_dict(info)

    @property
    def task_name(self) -> str:
        """The task's name: the template's ``id.name`` (a ``@task``'s ``module.function``)."""
        return self._record.task_name

    @property
    def attempt(self) -> int:
        """The current attempt, from 0."""
        return self._record.attempt

    def refresh(self) -> Execution:
        """Re-read the execution; returns itself."""
        self._record = self._client.record(self.id)
        return self

    def wait(self, timeout: float | timedelta) -> Phase:
        """Wait for the execution to finish.

        It subscribes to the execution's done message first, then reads the record, so
        the end wakes it at once. It re-reads the record at growing intervals too (10 ms
        up to 250 ms): a lost message, or a Redis user not allowed to subscribe, costs at
        most that.

        Returns:
            The final phase: SUCCESS, PERMANENT_FAILURE or ABORTED.

        Raises:
            ExecutionTimeoutError: It did not finish within ``timeout`` (a TimeoutError).
        """
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        deadline = time.monotonic() + limit
        pause = _FIRST_POLL
        with self._client.watch(self.id) as done:
            while True:
                if self.refresh()._record.finished:
                    return self.phase
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ExecutionTimeoutError(
                        f"execution {self.id} still {self.phase.name} after {limit:g}s"
                    )
                done.wait(min(pause, timedelta(seconds=remaining)))
                pause = min(pause * 2, _LAST_POLL)

    def outputs(self) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution.

        Raises:
            FlyteCeleryError: The execution has not succeeded.
        """
        if self._record.phase is not Phase.SUCCESS:
            raise FlyteCeleryError(
                f"execution {self.id} has no outputs: it is {self._record.phase.name}"
            )
        return self._client.outputs(self._record)

    @property
    def cache_status(self) -> CacheStatus | None:
        """What the result cache did: ``MISS``, ``HIT``, ``POPULATED``... (``None``: not cached)."""
        return self._record.cache_status

    def result(self, timeout: float | timedelta = 300.0) -> Any:
        """Wait for the execution and return its outputs as Python values.

        One output comes back as itself, several as a tuple, a ``NamedTuple``
        return type as that NamedTuple, none as ``None``. Without the task object
        (an execution from :meth:`Client.get`), types are guessed from the template and
        several outputs come back as a namedtuple of their names.

        Raises:
            ExecutionFailedError: It ended PERMANENT_FAILURE or ABORTED; carries the
                remote error's code, message and kind.
            ExecutionTimeoutError: It did not finish within ``timeout`` (a TimeoutError).
        """
        phase = self.wait(timeout)
        if phase is not Phase.SUCCESS:
            err = self._record.last_error
            if phase is Phase.ABORTED or err is None:
                raise ExecutionFailedError(
                    self.id, "Aborted", self._record.reason or "aborted", "USER", phase.name
                )
            raise ExecutionFailedError(self.id, err.code, err.message, err.kind.name, phase.name)
        return self._native_outputs(self.outputs())

    def _native_outputs(self, outputs: literals_pb2.LiteralMap) -> Any:
        params = ExecutionParameters(
            transform=self._client.transform(),
            execution_id=self.id,
            is_local=False,
        )
        if self._task is not None:
            return self._task.outputs_from_literal_map(params, outputs)
        declared = self.template().interface.outputs.variables
        # A proto map keeps no order: o0, o1, ... by index, other names alphabetically.
        names = sorted(set(declared) | set(outputs.literals), key=_output_order)
        values: dict[str, Any] = {}
        for key in names:
            if key not in outputs.literals:
                continue
            literal = outputs.literals[key]
            try:
                tp = (
                    TypeEngine.guess_python_type(declared[key].type)
                    if key in declared
                    else _guess_from_literal(literal)
                )
            except TypeError:  # a type only flytekit knows (a StructuredDataset)
                values[key] = guessed_python_value(key, literal, declared[key].type)
                continue
            if tp is Any:
                values[key] = literal  # nothing to convert it to: the flyteidl Literal itself
            else:
                values[key] = TypeEngine.to_python_value(params.transform, literal, tp)
        if not values:
            return None
        if len(values) == 1:
            return next(iter(values.values()))
        return namedtuple("Outputs", list(values), rename=True)(**values)

    def template(self) -> tasks_pb2.TaskTemplate:
        """The task template the execution runs, as it was submitted (``task.pb``).

        Raises:
            StorageError: It cannot be read, or is not a ``TaskTemplate``.
        """
        return self._client.template(self._record)

    def error(self) -> ExecutionError | None:
        """The error of the last failed attempt, if any."""
        return self._record.last_error

    def events(self) -> list[Event]:
        """Every (attempt, phase, version) change, oldest first."""
        return self._client.events(self.id)

    def abort(self, reason: str = "Aborted by user") -> None:
        """Abort the execution (see :meth:`Client.abort`)."""
        self._client.abort(self.id, reason)
        self.refresh()

    def signal(self) -> None:
        """Ask for a Get now (see :meth:`Client.signal`)."""
        self._client.signal(self.id)


def _guess_from_literal(literal: literals_pb2.Literal) -> Any:
    # Outputs the interface does not declare (kept, unlike Flyte): guess from the value.
    scalar = literal.scalar
    if literal.WhichOneof("value") == "scalar" and scalar.WhichOneof("value") == "primitive":
        return {
            "integer": int,
            "float_value": float,
            "string_value": str,
            "boolean": bool,
        }.get(scalar.primitive.WhichOneof("value") or "", Any)
    return Any


def _output_order(name: str) -> tuple[int, int, str]:
    match = re.fullmatch(r"o(\d+)", name)
    return (0, int(match.group(1)), "") if match else (1, 0, name)
