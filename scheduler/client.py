"""The Python API: submit flyteidl task templates and follow their executions.

>>> client = Client.from_settings()                       # doctest: +SKIP
>>> execution = client.submit(template, {"x": literal})   # doctest: +SKIP
>>> execution.wait(timeout=60)                            # doctest: +SKIP
<Phase.SUCCESS: 6>
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import redis
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import ExecutionError, Phase, PhaseInfo
from plugins.errors import FlyteCeleryError, StorageError
from plugins.idl import literal_map
from plugins.io import INPUTS_SUFFIX, TASK_TEMPLATE_SUFFIX, join_reference
from scheduler import machine
from scheduler.records import Event, ExecutionRecord, execution_id
from scheduler.runtime import Runtime, execution_prefix
from scheduler.settings import Settings
from scheduler.steps import utcnow

__all__ = [
    "Client",
    "Execution",
    "ExecutionNotFoundError",
    "InvalidSubmissionError",
]

_NAME_CHARS = string.ascii_lowercase + string.digits


class ExecutionNotFoundError(FlyteCeleryError, LookupError):
    """No execution has this id (or it expired after its retention)."""

    code = "ExecutionNotFound"

    def __str__(self) -> str:
        return self.message


class InvalidSubmissionError(FlyteCeleryError, ValueError):
    """A template or its inputs were rejected at submit time."""

    code = "InvalidSubmission"


def _new_name() -> str:
    # Like Flyte: 20 characters, starting with a letter.
    return secrets.choice(string.ascii_lowercase) + "".join(
        secrets.choice(_NAME_CHARS) for _ in range(19)
    )


class Client:
    """Submits executions and reads them back.

    Args:
        redis_url: The Redis of the deployment; defaults to the settings'.
        storage: The fsspec base URL for execution files; defaults to the settings'.
        settings: Settings to start from (``FLYTE_CELERY_*`` environment by default).
        runtime: A runtime to share (advanced; tests).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        storage: str | None = None,
        *,
        settings: Settings | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        if runtime is None:
            base = settings or Settings.load()
            overrides: dict[str, Any] = {}
            if redis_url is not None:
                overrides["redis_url"] = redis_url
            if storage is not None:
                overrides["storage"] = storage
            final = base.model_copy(update=overrides) if overrides else base
            runtime = Runtime(final, redis.Redis.from_url(final.redis_url))
        self.runtime = runtime

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Client:
        """A client configured from ``FLYTE_CELERY_*`` environment variables."""
        return cls(settings=settings or Settings.load())

    @property
    def settings(self) -> Settings:
        """The client's settings."""
        return self.runtime.settings

    def close(self) -> None:
        """Close the Redis connection."""
        self.runtime.redis.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submit --------------------------------------------------------------------------------

    def submit(
        self,
        task_template: tasks_pb2.TaskTemplate,
        inputs: literals_pb2.LiteralMap | Mapping[str, literals_pb2.Literal] | None = None,
        *,
        project: str = "default",
        domain: str = "development",
        name: str | None = None,
    ) -> Execution:
        """Start an execution of ``task_template`` with ``inputs``.

        Args:
            task_template: A flyteidl ``TaskTemplate``.
            inputs: A ``LiteralMap``, or a dict of flyteidl ``Literal``.
            project: The project.
            domain: The domain.
            name: The execution name; a random one when omitted.

        Returns:
            The new execution.

        Raises:
            InvalidSubmissionError: The template or inputs are malformed; the message
                says what is wrong.
            PluginNotFoundError: No plugin handles the template's task type.
            ExecutionExistsError: An execution with that name exists.
        """
        if not isinstance(task_template, tasks_pb2.TaskTemplate):
            raise InvalidSubmissionError(
                "task_template must be a flyteidl core.TaskTemplate, "
                f"got {type(task_template).__name__}"
            )
        if not task_template.type:
            raise InvalidSubmissionError(
                "task template has no task type (TaskTemplate.type is empty)"
            )
        try:
            values = literal_map(inputs)
        except TypeError as exc:
            raise InvalidSubmissionError(str(exc)) from None
        _check_inputs(task_template, values)
        entry = self.runtime.registry.entry_for(task_template.type)  # unknown type: raises here
        name = name or _new_name()
        try:
            exec_id = execution_id(project, domain, name)
        except ValueError as exc:
            raise InvalidSubmissionError(str(exc)) from None
        prefix = execution_prefix(self.settings.storage, project, domain, name)
        store = self.runtime.data_store
        try:
            store.write_protobuf(join_reference(prefix, TASK_TEMPLATE_SUFFIX), task_template)
            store.write_protobuf(join_reference(prefix, INPUTS_SUFFIX), values)
        except StorageError as exc:
            raise StorageError(f"cannot write the execution's files under {prefix}: {exc}") from exc
        metadata = task_template.metadata
        timeout = metadata.timeout.ToTimedelta() if metadata.HasField("timeout") else None
        now = utcnow()
        record = ExecutionRecord(
            id=exec_id,
            project=project,
            domain=domain,
            name=name,
            task_type=task_template.type,
            plugin_id=entry.id,
            template_uri=join_reference(prefix, TASK_TEMPLATE_SUFFIX),
            inputs_uri=prefix,
            output_prefix=join_reference(prefix, "data"),
            created_at=now,
            updated_at=now,
            phase=Phase.QUEUED,
            reason="submitted",
            retries=metadata.retries.retries,
            timeout=timeout if timeout and timeout > timedelta(0) else None,
            pending=True,
        )
        created = self.runtime.store.create(record)
        self.runtime.wake_scheduler()
        return Execution(self, created)

    # -- read ----------------------------------------------------------------------------------

    def _record(self, exec_id: str) -> ExecutionRecord:
        record = self.runtime.store.get(exec_id)
        if record is None:
            raise ExecutionNotFoundError(f"no execution {exec_id!r}")
        return record

    def get(self, exec_id: str) -> Execution:
        """The execution with ``exec_id`` (``project/domain/name``).

        Raises:
            ExecutionNotFoundError: There is none.
        """
        return Execution(self, self._record(exec_id))

    def list(self, phase: Phase | None = None, limit: int = 100) -> list[Execution]:
        """The newest executions first, optionally only those in ``phase``."""
        return [Execution(self, r) for r in self.runtime.store.list(phase=phase, limit=limit)]

    # -- act -----------------------------------------------------------------------------------

    def _update(
        self, exec_id: str, change: Callable[[ExecutionRecord], ExecutionRecord]
    ) -> ExecutionRecord:
        for _ in range(50):
            current = self._record(exec_id)
            new = change(current)
            if new is current:
                return current
            written = self.runtime.store.transition(current, new)
            if written is not None:
                self.runtime.wake_scheduler()
                return written
        raise FlyteCeleryError(f"execution {exec_id}: too much contention to update it")

    def signal(self, exec_id: str) -> None:
        """Get the execution's remote status now rather than at the next resync.

        This is Flyte's ``TaskRefreshIndicator``: a remote system that knows the job
        changed can say so, and completion becomes visible at once.
        """
        self._update(exec_id, lambda r: machine.signal(r, utcnow()))

    def abort(self, exec_id: str, reason: str = "Aborted by user") -> None:
        """Abort the execution: its plugin's ``delete`` is called, then it ends ABORTED."""
        self._update(exec_id, lambda r: machine.request_teardown(r, utcnow(), "abort", reason))

    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution (empty if the task declares none)."""
        reader = self.runtime.output_reader(record)
        if not reader.exists():
            return literals_pb2.LiteralMap()
        literals, err = reader.read()
        if err is not None:
            raise FlyteCeleryError(f"{record.id}: {err}")
        return literals or literals_pb2.LiteralMap()


def _check_inputs(template: tasks_pb2.TaskTemplate, values: literals_pb2.LiteralMap) -> None:
    declared = template.interface.inputs.variables
    if not declared:
        return
    missing = sorted(set(declared) - set(values.literals))
    unknown = sorted(set(values.literals) - set(declared))
    problems = []
    if missing:
        problems.append(f"missing inputs: {', '.join(missing)}")
    if unknown:
        problems.append(f"inputs the task does not declare: {', '.join(unknown)}")
    if problems:
        raise InvalidSubmissionError(
            f"task {template.id.name or template.type!r}: " + "; ".join(problems)
        )


class Execution:
    """A handle on one execution; :meth:`refresh` re-reads it.

    Attributes:
        id: ``project/domain/name``.
    """

    def __init__(self, client: Client, record: ExecutionRecord) -> None:
        self._client = client
        self._record = record
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
    def attempt(self) -> int:
        """The current attempt, from 0."""
        return self._record.attempt

    def refresh(self) -> Execution:
        """Re-read the execution; returns itself."""
        self._record = self._client._record(self.id)
        return self

    def wait(self, timeout: float | timedelta) -> Phase:
        """Wait for the execution to finish.

        Returns:
            The final phase: SUCCESS, PERMANENT_FAILURE or ABORTED.

        Raises:
            TimeoutError: It did not finish within ``timeout`` seconds.
        """
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
        deadline = time.monotonic() + limit
        pause = 0.01
        while True:
            if self.refresh()._record.finished:
                return self.phase
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"execution {self.id} still {self.phase.name} after {limit:g}s")
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.25)

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

    def error(self) -> ExecutionError | None:
        """The error of the last failed attempt, if any."""
        return self._record.last_error

    def events(self) -> list[Event]:
        """Every (attempt, phase, version) change, oldest first."""
        return self._client.runtime.store.events(self.id)

    def abort(self, reason: str = "Aborted by user") -> None:
        """Abort the execution (see :meth:`Client.abort`)."""
        self._client.abort(self.id, reason)
        self.refresh()

    def signal(self) -> None:
        """Ask for a Get now (see :meth:`Client.signal`)."""
        self._client.signal(self.id)
