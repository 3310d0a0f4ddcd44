"""Submission: what ``Client.submit`` and ``Client.submit_many`` check, convert and write.

A submission is prepared first (the template built and checked, the inputs converted
and checked against its interface, the task type known to be served) without writing
anything but the uploads of ``File`` inputs; then its ``task.pb`` and ``inputs.pb`` are
written to storage; then its record is created in Redis. ``submit_many`` prepares every
submission before writing any, writes the files concurrently and creates the records
with pipelined Redis calls.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from flyteidl.admin import task_pb2
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import Phase
from plugins.errors import (
    InvalidSubmissionError,
    StorageError,
    TaskLoadError,
)
from plugins.flytekit.values import FlytekitTask
from plugins.io import INPUTS_SUFFIX, TASK_TEMPLATE_SUFFIX, join_reference
from plugins.tasks import (
    PythonTask,
    Task,
    TransformContext,
)
from plugins.tasks.resolver import loading
from scheduler._client.audit import current_actor
from scheduler._client.conversion import literal_inputs, resolved, template_of
from scheduler._client.redis_errors import project_error
from scheduler._client.validation import check_inputs
from scheduler._model import ExecutionRecord, cache_key, execution_id
from scheduler._runtime import Runtime, execution_prefix

__all__ = ["Prepared", "Submission", "Submitter", "new_name"]

_NAME_CHARS = string.ascii_lowercase + string.digits

_CHUNK = 500
"""Submissions written (files, then records) per step of ``submit_many``."""


_BYTE_TO_CHAR = bytes((_NAME_CHARS.encode() * 8)[:256])
"""Maps a random byte to a name character (the first 4 of 36 a little more often)."""


def new_name() -> str:
    """A random execution name: like Flyte's, 20 characters starting with a letter."""
    # One call for the randomness, not one per character: submit_many makes thousands.
    tail = secrets.token_bytes(19).translate(_BYTE_TO_CHAR).decode()
    return secrets.choice(string.ascii_lowercase) + tail


SubmittedTask = tasks_pb2.TaskTemplate | Task | task_pb2.TaskSpec | Any
"""What ``submit`` takes: one of our tasks, a flytekit task, a template (flyteidl or flyteidl2)
or an admin TaskSpec."""


@dataclass(frozen=True)
class Submission:
    """One execution for :meth:`~scheduler._client.Client.submit_many`.

    Attributes:
        task: A :class:`~plugins.tasks.Task`, a flytekit task, a flyteidl ``TaskTemplate``
            or an admin ``TaskSpec``.
        inputs: Its inputs, as :meth:`~scheduler._client.Client.submit` takes them.
        name: The execution name; a random one when omitted.
    """

    task: SubmittedTask
    inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None
    name: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A checked submission, ready to be written.

    Attributes:
        record: The execution's first record.
        template: Its task template.
        values: Its inputs.
        native: The ``PythonTask`` or flytekit task it came from, if any (its results
            convert back through it).
        prefix: Where its files go.
    """

    record: ExecutionRecord
    template: tasks_pb2.TaskTemplate
    values: literals_pb2.LiteralMap
    native: PythonTask[Any] | FlytekitTask | None
    prefix: str


class Submitter:
    """Prepares and writes submissions for one runtime.

    Args:
        runtime: The client's runtime.
    """

    def __init__(self, runtime: Runtime) -> None:
        """Start a submission.

        Raises:
            TaskLoadError: A worker is importing a task's module to run it, and the module
                submits as it is imported: it would submit again from every worker.
        """
        if loading():
            raise TaskLoadError(
                "the task's module submits as it is imported, so it would submit again "
                "from the worker that runs the task; put the code that submits under "
                '`if __name__ == "__main__":`'
            )
        self.runtime = runtime
        self.owner = secrets.token_hex(8)  # whose claims on names these are

    def template_of(self, task: SubmittedTask, project: str, domain: str) -> tasks_pb2.TaskTemplate:
        """The task's template, checked (see :func:`.conversion.template_of`)."""
        return template_of(task, project, domain, self.runtime.settings.max_download_bytes)

    def prepare(
        self,
        task: SubmittedTask,
        inputs: object,
        *,
        project: str,
        domain: str,
        name: str | None,
        overwrite_cache: bool,
        template: tasks_pb2.TaskTemplate | None = None,
        check_type: bool = True,
        template_uri: str | None = None,
    ) -> Prepared:
        """Check a submission and build its record; writes nothing but input uploads.

        Args:
            task: The task.
            inputs: Its inputs.
            project: The project.
            domain: The domain.
            name: The execution name, or None for a random one.
            overwrite_cache: Run even on a cache hit, and replace the entry.
            template: The task's template, when the caller built it already.
            check_type: Check that the task type is served (a batch checks each once).
            template_uri: Where the template is (a batch's shared one); else its
                ``task.pb`` under the execution's prefix.

        Raises:
            InvalidSubmissionError: The template or inputs are malformed or do not fit.
            PluginNotFoundError: Nothing serves the task type.
            StorageError: Uploading a ``File`` input failed.
        """
        name = name or new_name()
        try:
            exec_id = execution_id(project, domain, name)
        except ValueError as exc:
            raise InvalidSubmissionError(str(exc)) from None
        prefix = execution_prefix(self.runtime.settings.storage, project, domain, name)
        task = resolved(task)
        template = template or self.template_of(task, project, domain)
        native = task if isinstance(task, PythonTask | FlytekitTask) else None
        limit = self.runtime.settings.max_download_bytes
        uploads = TransformContext(self.runtime.data_store, join_reference(prefix, "uploads"))
        values = literal_inputs(
            task, template, inputs, exec_id=exec_id, uploads=uploads, max_bytes=limit
        )
        check_inputs(template, values)
        if check_type:
            # Unknown here and served by no live process: raises. The scheduler routes it.
            self.runtime.plugins.check_served(template.type)
        key = cache_key(template, values, project, domain)
        metadata = template.metadata
        timeout = metadata.timeout.ToTimedelta() if metadata.HasField("timeout") else None
        now = self.runtime.clock()
        record = ExecutionRecord(
            id=exec_id,
            project=project,
            domain=domain,
            name=name,
            task_type=template.type,
            task_name=template.id.name,
            submitted_by=current_actor() or "",
            template_uri=template_uri or join_reference(prefix, TASK_TEMPLATE_SUFFIX),
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
        return Prepared(record, template, values, native, prefix)

    def shared_template_uri(self, template: tasks_pb2.TaskTemplate) -> tuple[str, bytes]:
        """Where a batch's template goes, named by its content, and its bytes.

        ``submit_many`` points every record of one template at this one file instead of
        writing a ``task.pb`` per execution:
        ``<storage>/templates/<sha256 of its deterministic serialization>.pb``.
        """
        data = template.SerializeToString(deterministic=True)
        name = f"{hashlib.sha256(data).hexdigest()}.pb"
        return join_reference(self.runtime.settings.storage, "templates", name), data

    def write_files(self, prepared: Prepared) -> None:
        """Write the submission's ``task.pb`` and ``inputs.pb``.

        Raises:
            StorageError: A write failed; the message says where.
        """
        store = self.runtime.data_store
        try:
            store.write_protobuf(prepared.record.template_uri, prepared.template)
            store.write_protobuf(join_reference(prepared.prefix, INPUTS_SUFFIX), prepared.values)
        except StorageError as exc:
            # Keep the storage error's code (NotFound, RemoteFileExceedsMaxSize...) for callers.
            raise StorageError(
                f"cannot write the execution's files under {prepared.prefix}: {exc}",
                code=exc.code,
            ) from exc

    def store_many(
        self,
        prepared: Sequence[Prepared],
        templates: Iterable[tuple[tasks_pb2.TaskTemplate, str, bytes]],
    ) -> list[ExecutionRecord | None]:
        """Write a batch: each distinct template once, then the inputs and records.

        500 at a time, waking the scheduler after each step, so the first start at once.
        The inputs are written on a thread (by :meth:`DataStore.write_many`: concurrently
        to an object store) while the records of those written already are created.

        Returns:
            Each stored record, in order; ``None`` where the id was taken.

        Raises:
            StorageError: A write failed; the message says how many were stored before.
            BackendUnavailableError: Redis failed part-way, after some were stored
                (AccessDeniedError if it refused a call).
        """
        store = self.runtime.data_store
        store.write_many(list({uri: data for _, uri, data in templates}.items()))
        chunks = [prepared[start : start + _CHUNK] for start in range(0, len(prepared), _CHUNK)]
        created: list[ExecutionRecord | None] = []

        def inputs_of(chunk: Sequence[Prepared]) -> None:
            store.write_many(
                [
                    (
                        join_reference(p.prefix, INPUTS_SUFFIX),
                        p.values.SerializeToString(deterministic=True),
                    )
                    for p in chunk
                ]
            )

        # One writer thread, ahead of this one: its file system calls overlap the Redis
        # calls and encoding here, and a record is created only once its inputs are written.
        with ThreadPoolExecutor(max_workers=1) as writer:
            written = [writer.submit(inputs_of, chunk) for chunk in chunks]
            try:
                for chunk, files in zip(chunks, written, strict=True):
                    files.result()
                    created += self.runtime.store.create_many([p.record for p in chunk])
                    self.runtime.wake.notify(*(p.record.id for p in chunk))
            except (StorageError, redis.RedisError) as exc:
                writer.shutdown(cancel_futures=True)
                stored = sum(c is not None for c in created)
                if not stored:
                    raise
                # Say what already runs, so that a retry does not submit it twice.
                note = f"{stored} execution(s) earlier in the batch were stored and run"
                if isinstance(exc, StorageError):
                    raise StorageError(f"{exc.message}; {note}", code=exc.code) from exc
                raise project_error(exc, note) from exc
        return created
