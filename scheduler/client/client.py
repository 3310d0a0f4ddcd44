"""The Python API: submit flyteidl task templates and follow their executions.

>>> client = Client.from_settings()                       # doctest: +SKIP
>>> execution = client.submit(template, {"x": literal})   # doctest: +SKIP
>>> execution.wait(timeout=60)                            # doctest: +SKIP
<Phase.SUCCESS: 6>
"""

from __future__ import annotations

import builtins
import functools
import secrets
import string
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

import redis
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import Phase
from plugins.errors import (
    AccessDeniedError,
    BackendUnavailableError,
    ContentionError,
    ExecutionNotFoundError,
    FlyteCeleryError,
    InputConversionError,
    InvalidSubmissionError,
    StorageError,
    TaskLoadError,
)
from plugins.io import INPUTS_SUFFIX, TASK_TEMPLATE_SUFFIX, join_reference
from plugins.io.readers import NO_OUTPUTS_PRODUCED
from plugins.tasks import (
    ExecutionParameters,
    PythonTask,
    SerializationSettings,
    Task,
    TransformContext,
)
from scheduler.client.execution import Execution
from scheduler.client.template_inputs import template_inputs
from scheduler.client.validation import check_inputs, check_template, normalize_inputs
from scheduler.clock import Clock, utcnow
from scheduler.model import (
    Event,
    ExecutionRecord,
    TeardownKind,
    cache_key,
    describe,
    execution_id,
    machine,
)
from scheduler.runtime import Runtime, execution_prefix
from scheduler.settings import Settings

__all__ = ["Client"]

_NAME_CHARS = string.ascii_lowercase + string.digits
P = ParamSpec("P")
R = TypeVar("R")


def _reaching_redis(method: Callable[P, R]) -> Callable[P, R]:
    """Turn Redis's own errors into the project's: public calls raise nothing else."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (redis.exceptions.NoPermissionError, redis.AuthenticationError) as exc:
            # A deployment restricts clients with Redis ACLs (see the README's roles).
            raise AccessDeniedError(
                f"Redis refused this call: {type(exc).__name__}: {exc} (check the user and "
                "password in FLYTE_CELERY_REDIS_URL, and that user's ACL role)"
            ) from exc
        except redis.RedisError as exc:
            # redis-py names the host and port, never the password.
            raise BackendUnavailableError(
                f"Redis is unavailable: {type(exc).__name__}: {exc}"
            ) from exc

    return call


_CAS_ATTEMPTS = 50


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
        runtime: A runtime to share (advanced; :mod:`scheduler.testing` does).
        clock: The clock that stamps submissions, aborts and signals (the system
            clock by default; a shared runtime brings its own).
    """

    def __init__(
        self,
        redis_url: str | None = None,
        storage: str | None = None,
        *,
        settings: Settings | None = None,
        runtime: Runtime | None = None,
        clock: Clock | None = None,
    ) -> None:
        if runtime is not None and clock is not None and clock is not runtime.clock:
            raise ValueError("pass the clock to the shared runtime, not to the client")
        if runtime is None:
            base = settings or Settings.load()
            overrides: dict[str, Any] = {}
            if redis_url is not None:
                overrides["redis_url"] = redis_url
            if storage is not None:
                overrides["storage"] = storage
            final = base.model_copy(update=overrides) if overrides else base
            redis_client = redis.Redis.from_url(final.redis_url)
            runtime = Runtime(final, redis_client, clock=clock or utcnow)
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
        self.runtime.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- submit --------------------------------------------------------------------------------

    @_reaching_redis
    def submit(
        self,
        task: tasks_pb2.TaskTemplate | Task,
        inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
        *,
        project: str = "default",
        domain: str = "development",
        name: str | None = None,
        overwrite_cache: bool = False,
    ) -> Execution:
        """Start an execution of a task with ``inputs``.

        Args:
            task: A :class:`~plugins.tasks.Task` (e.g. a ``@task`` function), or a
                flyteidl ``TaskTemplate``.
            inputs: For a ``PythonTask``, native Python values by input name (missing
                ones take the function's defaults). For a template, a ``LiteralMap``
                (flyteidl's or flytekit's model), or a dict of flyteidl ``Literal``,
                flytekit ``Literal`` models or Python values, which are converted to the
                types the template declares.
            project: The project.
            domain: The domain.
            name: The execution name; a random one when omitted.
            overwrite_cache: Run even if the result cache has an entry, and replace it.

        Returns:
            The new execution.

        Raises:
            InvalidSubmissionError: The template or inputs are malformed, or an input
                does not fit its type; the message names what is wrong.
            PluginNotFoundError: No plugin here handles the task type and no running
                worker or scheduler serves it.
            ExecutionExistsError: An execution with that name exists.
        """
        name = name or _new_name()
        try:
            exec_id = execution_id(project, domain, name)
        except ValueError as exc:
            raise InvalidSubmissionError(str(exc)) from None
        prefix = execution_prefix(self.settings.storage, project, domain, name)
        python_task: PythonTask[Any] | None = None
        if isinstance(task, Task):
            task.warn_if_deprecated()
            if isinstance(task, PythonTask):
                python_task = task  # also converts the result back to Python values
            try:
                task_template = task.to_task_template(
                    SerializationSettings(project=project, domain=domain)
                )
            except TaskLoadError as exc:
                raise InvalidSubmissionError(exc.message) from None
            except FlyteCeleryError:
                raise
            except Exception as exc:  # a Task subclass's own hook raised
                raise InvalidSubmissionError(
                    f"cannot build the template of task {task.name!r}: {describe(exc)}"
                ) from None
        elif isinstance(task, tasks_pb2.TaskTemplate):
            task_template = task
        else:
            raise InvalidSubmissionError(
                "submit() takes a Task (e.g. a @task function) or a flyteidl core.TaskTemplate, "
                f"got {type(task).__name__}"
            )
        limit = self.settings.max_download_bytes
        check_template(task_template, limit)
        if python_task is not None and not isinstance(inputs, literals_pb2.LiteralMap):
            values = self._convert_inputs(python_task, inputs or {}, exec_id, prefix)
        else:
            # Literals, flytekit's literal models, or Python values of the declared types.
            uploads = TransformContext(self.runtime.data_store, join_reference(prefix, "uploads"))
            values = normalize_inputs(template_inputs(task_template, inputs, uploads), limit)
        check_inputs(task_template, values)
        # Unknown here and served by no live process: raises. The scheduler routes it.
        self.runtime.check_served(task_template.type)
        key = cache_key(task_template, values, project, domain)
        store = self.runtime.data_store
        try:
            store.write_protobuf(join_reference(prefix, TASK_TEMPLATE_SUFFIX), task_template)
            store.write_protobuf(join_reference(prefix, INPUTS_SUFFIX), values)
        except StorageError as exc:
            # Keep the storage error's code (NotFound, RemoteFileExceedsMaxSize...) for callers.
            raise StorageError(
                f"cannot write the execution's files under {prefix}: {exc}", code=exc.code
            ) from exc
        metadata = task_template.metadata
        timeout = metadata.timeout.ToTimedelta() if metadata.HasField("timeout") else None
        now = self.runtime.clock()
        record = ExecutionRecord(
            id=exec_id,
            project=project,
            domain=domain,
            name=name,
            task_type=task_template.type,
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
            cache_key=None if key is None else key.digest,
            cache_serialize=key is not None and metadata.cache_serializable,
            cache_overwrite=key is not None and overwrite_cache,
        )
        created = self.runtime.store.create(record)
        self.runtime.wake.notify()
        return Execution(self, created, python_task)

    def _convert_inputs(
        self, task: PythonTask[Any], inputs: Mapping[str, Any], exec_id: str, prefix: str
    ) -> literals_pb2.LiteralMap:
        if not isinstance(inputs, Mapping):
            raise InvalidSubmissionError(
                f"inputs of task {task.name!r} must be a dict of input name to Python value, "
                f"got {type(inputs).__name__}"
            )
        params = ExecutionParameters(
            transform=TransformContext(self.runtime.data_store, join_reference(prefix, "uploads")),
            execution_id=exec_id,
            task_name=task.name,
            is_local=False,
        )
        try:
            values = task.inputs_to_literal_map(params, task.bind_inputs(**inputs))
        except InputConversionError as exc:
            raise InvalidSubmissionError(exc.message) from None
        except StorageError:
            raise  # an upload failed: the storage error says where
        except (TypeError, ValueError) as exc:  # e.g. a name that is no keyword, an odd value
            raise InvalidSubmissionError(f"inputs of task {task.name!r}: {describe(exc)}") from None
        return normalize_inputs(values, self.settings.max_download_bytes)

    # -- read ----------------------------------------------------------------------------------

    @_reaching_redis
    def record(self, exec_id: str) -> ExecutionRecord:
        """The stored record of ``exec_id``.

        Raises:
            ExecutionNotFoundError: There is none.
        """
        record = self.runtime.store.get(exec_id)
        if record is None:
            raise ExecutionNotFoundError(f"no execution {exec_id!r}")
        return record

    def get(self, exec_id: str) -> Execution:
        """The execution with ``exec_id`` (``project/domain/name``).

        Raises:
            ExecutionNotFoundError: There is none.
        """
        return Execution(self, self.record(exec_id))

    @_reaching_redis
    def list(self, phase: Phase | None = None, limit: int = 100) -> list[Execution]:
        """The newest executions first, optionally only those in ``phase``."""
        return [Execution(self, r) for r in self.runtime.store.list(phase=phase, limit=limit)]

    # -- act -----------------------------------------------------------------------------------

    @_reaching_redis
    def _update(
        self, exec_id: str, change: Callable[[ExecutionRecord], ExecutionRecord]
    ) -> ExecutionRecord:
        for _ in range(_CAS_ATTEMPTS):
            current = self.record(exec_id)
            new = change(current)
            if new is current:
                return current
            written = self.runtime.store.transition(current, new)
            if written is not None:
                self.runtime.wake.notify()
                return written
        raise ContentionError(f"execution {exec_id}: too much contention to update it")

    def signal(self, exec_id: str) -> None:
        """Get the execution's remote status now rather than at the next resync.

        This is Flyte's ``TaskRefreshIndicator``: a remote system that knows the job
        changed can say so, and completion becomes visible at once.
        """
        self._update(exec_id, lambda r: machine.signal(r, self.runtime.clock()))

    def abort(self, exec_id: str, reason: str = "Aborted by user") -> None:
        """Abort the execution: its plugin's ``delete`` is called, then it ends ABORTED."""
        clock = self.runtime.clock
        self._update(
            exec_id, lambda r: machine.request_teardown(r, clock(), TeardownKind.ABORT, reason)
        )

    @_reaching_redis
    def events(self, exec_id: str) -> builtins.list[Event]:
        """Every (attempt, phase, version) change of an execution, oldest first."""
        return self.runtime.store.events(exec_id)

    @_reaching_redis
    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution (empty if the task declares none)."""
        reader = self.runtime.contexts.output_reader(record)
        if not reader.exists():
            return literals_pb2.LiteralMap()
        literals, err = reader.read()
        if err is not None and err.code == NO_OUTPUTS_PRODUCED:
            # An empty map serializes to zero bytes: a task without outputs, not an error.
            return literals_pb2.LiteralMap()
        if err is not None:
            raise FlyteCeleryError(f"{record.id}: {err}")
        return literals or literals_pb2.LiteralMap()
