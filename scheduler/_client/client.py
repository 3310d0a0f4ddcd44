"""The Python API: submit flyteidl task templates and follow their executions.

>>> client = Client.from_settings()                       # doctest: +SKIP
>>> execution = client.submit(template, {"x": literal})   # doctest: +SKIP
>>> execution.wait(timeout=60)                            # doctest: +SKIP
<Phase.SUCCESS: 6>
"""

from __future__ import annotations

import builtins
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import Phase
from plugins.errors import (
    ExecutionExistsError,
    ExecutionNotFoundError,
    FlyteCeleryError,
    InvalidSubmissionError,
)
from plugins.tasks import TransformContext
from scheduler._backend import NAME_CLAIM, DoneWatch, PhaseCount
from scheduler._client.audit import current_actor
from scheduler._client.execution import Execution
from scheduler._client.files import ExecutionFiles
from scheduler._client.redis_errors import reaching_redis
from scheduler._client.remote import RemoteClient
from scheduler._client.submission import Prepared, Submission, SubmittedTask, Submitter
from scheduler._model import (
    Cursor,
    Event,
    ExecutionFilter,
    ExecutionRecord,
    TeardownKind,
    machine,
)
from scheduler._runtime import Runtime
from scheduler.clock import Clock, utcnow
from scheduler.settings import Settings

__all__ = ["Client"]


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
            runtime = Runtime(final, clock=clock or utcnow)
        self.runtime = runtime
        self._files = ExecutionFiles(runtime)

    @staticmethod
    def connect(url: str | None = None, *, token: str | None = None) -> RemoteClient:
        """A client of a deployment's HTTP API: this class's methods, with a token only.

        ``url`` and ``token`` default to ``FLYTE_CELERY_SERVER_URL`` and
        ``FLYTE_CELERY_TOKEN``. See :class:`~scheduler._client.remote.RemoteClient`.

        Raises:
            ConfigError: No server URL or no token.
        """
        return RemoteClient.from_env(url, token)

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

    @reaching_redis
    def submit(
        self,
        task: SubmittedTask,
        inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
        *,
        project: str = "default",
        domain: str = "development",
        name: str | None = None,
        overwrite_cache: bool = False,
    ) -> Execution:
        """Start an execution of a task with ``inputs``.

        Args:
            task: A :class:`~plugins.tasks.Task` (e.g. a ``@task`` function), a flytekit
                task (serialized as ``pyflyte register`` does), a flyteidl
                ``TaskTemplate``, or a flyteidl admin ``TaskSpec`` (``pyflyte package``).
            inputs: For a ``PythonTask`` or a flytekit task, native Python values by
                input name (missing ones take the function's defaults). For a template,
                a ``LiteralMap`` (flyteidl's or flytekit's model), or a dict of flyteidl
                ``Literal``, flytekit ``Literal`` models or Python values (dataclass
                instances too), which are converted to the
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
        submitter = Submitter(self.runtime)
        prepared = submitter.prepare(
            task,
            inputs,
            project=project,
            domain=domain,
            name=name,
            overwrite_cache=overwrite_cache,
        )
        claimed = [prepared.record.id] if name is not None else []
        # A name is claimed before its files are written: those of an execution that has
        # it, or of a submission racing for it, are never overwritten.
        if claimed and self.runtime.store.indexes.claim_names(claimed, submitter.owner):
            if self.runtime.store.get(prepared.record.id) is not None:
                raise ExecutionExistsError(f"execution {prepared.record.id!r} already exists")
            # Held by a submission still writing, or by one Redis cut off: not an execution.
            raise ExecutionExistsError(
                f"execution name {prepared.record.id!r} is held by another submission "
                "(one in progress, or one cut off by a Redis outage: then it is free "
                f"again within {NAME_CLAIM.total_seconds():g}s)"
            )
        try:
            submitter.write_files(prepared)
            created = self.runtime.store.create(prepared.record)
        finally:
            self.runtime.store.indexes.release_names(claimed)
        self.runtime.wake.notify(created.id)
        return Execution(self, created, prepared.native)

    @reaching_redis
    def submit_many(
        self,
        submissions: Iterable[Submission],
        *,
        project: str = "default",
        domain: str = "development",
        overwrite_cache: bool = False,
    ) -> list[Execution]:
        """Start many executions at once: what :meth:`submit` does, batched.

        Every submission is checked before anything is stored, so one bad submission
        stores none. Each distinct template is written once, under
        ``<storage>/templates/<sha256>.pb``. Then, 500 at a time, the inputs are written
        (on a thread ahead of the records; concurrently, to an object store), the records
        created (pipelined script calls of 100) and the scheduler woken: the first
        executions start while the rest are written. A record is created only once its
        inputs are written.

        Args:
            submissions: What to run; each a :class:`Submission` (task, inputs, name).
            project: The project of all of them.
            domain: The domain of all of them.
            overwrite_cache: Run even if the result cache has an entry, and replace it.

        Returns:
            The new executions, in the order of ``submissions``.

        Raises:
            InvalidSubmissionError: A submission is malformed (the message starts with
                its index); nothing was stored.
            PluginNotFoundError: A task type nothing serves; nothing was stored.
            ExecutionExistsError: Names already taken (all listed); every other
                submission was stored.
            StorageError: A file could not be written; the message says where, and
                how many executions earlier in the batch were stored before it.
        """
        submitter = Submitter(self.runtime)
        templates: dict[int, tuple[tasks_pb2.TaskTemplate, str, bytes]] = {}
        served: set[str] = set()
        prepared: list[Prepared] = []
        items = list(submissions)
        for index, item in enumerate(items):
            if not isinstance(item, Submission):
                raise InvalidSubmissionError(
                    f"submission #{index}: expected a Submission, got {type(item).__name__}"
                )
            try:
                # One template per task object: building it is the costly part.
                known = templates.get(id(item.task))
                if known is None:
                    built = submitter.template_of(item.task, project, domain)
                    known = (built, *submitter.shared_template_uri(built))
                    templates[id(item.task)] = known
                template, template_uri, _ = known
                prepared.append(
                    submitter.prepare(
                        item.task,
                        item.inputs,
                        project=project,
                        domain=domain,
                        name=item.name,
                        overwrite_cache=overwrite_cache,
                        template=template,
                        check_type=template.type not in served,
                        template_uri=template_uri,
                    )
                )
                served.add(template.type)
            except FlyteCeleryError as exc:
                raise type(exc)(f"submission #{index}: {exc.message}", code=exc.code) from None
        counts = Counter(p.record.id for p in prepared)
        twice = sorted(n for n, c in counts.items() if c > 1)
        if twice:
            raise InvalidSubmissionError(f"execution names given twice: {', '.join(twice)}")
        # Names taken already (or being submitted) are left out before anything is written.
        named = [p.record.id for p, item in zip(prepared, items, strict=True) if item.name]
        taken = self.runtime.store.indexes.claim_names(named, submitter.owner) if named else set()
        prepared = [p for p in prepared if p.record.id not in taken]
        try:
            created = submitter.store_many(prepared, templates.values())
        finally:
            self.runtime.store.indexes.release_names([i for i in named if i not in taken])
        taken.update(p.record.id for p, c in zip(prepared, created, strict=True) if c is None)
        if taken:
            raise ExecutionExistsError(
                f"{len(taken)} execution(s) already exist and were not submitted again: "
                + ", ".join(sorted(taken))
            )
        return [
            Execution(self, c, p.native)
            for p, c in zip(prepared, created, strict=True)
            if c is not None
        ]

    # -- read ----------------------------------------------------------------------------------

    @reaching_redis
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

    @reaching_redis
    def list(
        self,
        phase: Phase | None = None,
        limit: int = 100,
        *,
        task_type: str | None = None,
        project: str | None = None,
        domain: str | None = None,
        task_name: str | None = None,
    ) -> list[Execution]:
        """The newest executions first, optionally only those matching every filter given.

        ``task_name`` is the task's name (the template's ``id.name``, a ``@task``'s
        ``module.function``), matched exactly.
        """
        where = ExecutionFilter(phase, task_type, project, domain, task_name)
        return [Execution(self, r) for r in self.runtime.store.list(where, limit)]

    @reaching_redis
    def page(
        self,
        where: ExecutionFilter | None = None,
        after: Cursor | None = None,
        limit: int = 50,
        *,
        scan: int | None = None,
    ) -> tuple[builtins.list[Execution], Cursor | None]:
        """One page of the newest-first listing: up to ``limit`` executions after ``after``.

        Args:
            where: Only executions matching it (default: all).
            after: The cursor the previous page returned (``None``: the newest).
            limit: The most executions on the page.
            scan: The most executions looked at (``None``: as many as it takes); a filter
                that rarely matches then returns a short page, and a cursor to go on.

        Returns:
            The page, and the cursor to pass for the next page (``None``: no more).
        """
        found, more = self.runtime.store.page(where or ExecutionFilter(), after, limit, scan)
        return [Execution(self, r) for r in found], more

    @reaching_redis
    def phase_counts(self) -> builtins.list[PhaseCount]:
        """Executions by task type and phase, from counts the store keeps with every write.

        An open phase counts the executions in it now; a terminal one, every execution
        that ever ended there.
        """
        return self.runtime.store.totals.phase_counts()

    # -- act -----------------------------------------------------------------------------------

    @reaching_redis
    def _update(
        self, exec_id: str, change: Callable[[ExecutionRecord], ExecutionRecord], asked: str
    ) -> ExecutionRecord:
        actor = current_actor()  # who asked: logged first, for the audit trail

        def apply(
            current: ExecutionRecord,
        ) -> tuple[ExecutionRecord, list[Event]] | ExecutionRecord:
            new = change(current)
            if actor is None:
                return current if new is current else (new, [])
            # Asked by someone: logged even when it changes nothing (a signal while launching).
            by = Event(current.attempt, current.phase, current.phase_version, asked,
                       self.runtime.clock(), actor=actor)  # fmt: skip
            return new, [by]

        updated = self.runtime.store.update(exec_id, apply, known=self.record(exec_id))
        if updated is None:  # deleted since it was read
            raise ExecutionNotFoundError(f"no execution {exec_id!r}")
        if updated.changed:  # written: the scheduler has something to do
            self.runtime.wake.notify(exec_id)
        return updated.after

    def signal(self, exec_id: str) -> None:
        """Get the execution's remote status now rather than at the next resync.

        This is Flyte's ``TaskRefreshIndicator``: a remote system that knows the job
        changed can say so, and completion becomes visible at once.
        """
        self._update(exec_id, lambda r: machine.signal(r, self.runtime.clock()), "signalled")

    def abort(self, exec_id: str, reason: str = "Aborted by user") -> None:
        """Abort the execution: its plugin's ``delete`` is called, then it ends ABORTED."""

        def change(r: ExecutionRecord) -> ExecutionRecord:
            return machine.request_teardown(r, self.runtime.clock(), TeardownKind.ABORT, reason)

        self._update(exec_id, change, f"abort requested: {reason}")

    @reaching_redis
    def events(self, exec_id: str) -> builtins.list[Event]:
        """Every (attempt, phase, version) change of an execution, oldest first."""
        return self.runtime.store.events(exec_id)

    def inputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The inputs the execution was submitted with (raises InputReadError)."""
        return self._files.inputs(record)

    @reaching_redis
    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution (empty if the task declares none)."""
        return self._files.outputs(record)

    def template(self, record: ExecutionRecord) -> tasks_pb2.TaskTemplate:
        """The template the execution runs, as it was submitted (raises StorageError)."""
        return self._files.template(record)

    def transform(self) -> TransformContext:
        """Converts outputs to Python values, reading the blobs they point at."""
        return self._files.transform()

    def watch(self, exec_id: str) -> DoneWatch:
        """Listen for the execution's done message while the block runs."""
        return self.runtime.done.watch(exec_id)
