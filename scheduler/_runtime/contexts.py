"""What a plugin call sees: the context of one attempt, built from its record.

An attempt's files live under the execution's prefix
(``<storage>/executions/<project>/<domain>/<name>``); its outputs and error under
``<output prefix>/<attempt>``; its raw data and checkpoints under
``<storage>/raw``, sharded by its generated name.
"""

from __future__ import annotations

from dataclasses import dataclass

from plugins.core import SecretManager, TaskExecutionMetadata, TaskReader
from plugins.io import (
    DataStore,
    RemoteFileInputReader,
    RemoteFileOutputPaths,
    RemoteFileOutputReader,
    join_reference,
)
from plugins.io.paths import attempt_raw_output_prefix, previous_checkpoint_path
from plugins.io.writers import BufferedOutputWriter
from plugins.webapi import TaskExecutionContext
from scheduler._model import ExecutionRecord

__all__ = ["AttemptContext", "Contexts", "execution_prefix"]


def execution_prefix(storage: str, project: str, domain: str, name: str) -> str:
    """Where an execution's files live: ``<storage>/executions/<project>/<domain>/<name>``."""
    return join_reference(storage, "executions", project, domain, name)


@dataclass(frozen=True)
class AttemptContext:
    """Everything about one attempt that plugin calls need.

    Attributes:
        context: The context plugin methods receive.
        writer: Buffers what the plugin writes until the attempt commits it.
        paths: Where the attempt's outputs, raw data and checkpoints go.
    """

    context: TaskExecutionContext
    writer: BufferedOutputWriter
    paths: RemoteFileOutputPaths

    @property
    def execution_id(self) -> str:
        """The execution's id, ``project/domain/name``."""
        ids = self.context.task_execution_metadata.task_execution_id.id
        execution = ids.node_execution_id.execution_id
        return f"{execution.project}/{execution.domain}/{execution.name}"


class Contexts:
    """Builds attempt contexts and output readers.

    Args:
        data_store: Blob storage.
        storage: The storage base URL.
        secret_manager: What plugins read secrets from.
    """

    def __init__(self, data_store: DataStore, storage: str, secret_manager: SecretManager) -> None:
        self.data_store = data_store
        self.storage = storage
        self.secret_manager = secret_manager

    @staticmethod
    def output_prefix(record: ExecutionRecord, attempt: int | None = None) -> str:
        """``<output prefix>/<attempt>``: where an attempt's outputs and errors go."""
        return join_reference(
            record.output_prefix, str(record.attempt if attempt is None else attempt)
        )

    def attempt(self, record: ExecutionRecord) -> AttemptContext:
        """The context plugin methods get for the record's current attempt."""
        tid = record.task_execution_id()
        raw_base = join_reference(self.storage, "raw")
        paths = RemoteFileOutputPaths(
            self.output_prefix(record),
            attempt_raw_output_prefix(raw_base, tid),
            previous_checkpoint_path(raw_base, tid),
        )
        writer = BufferedOutputWriter(paths)
        context = TaskExecutionContext(
            task_execution_metadata=TaskExecutionMetadata(
                task_execution_id=tid,
                namespace=f"{record.project}-{record.domain}",
                owner_id=record.name,
                max_attempts=record.retries + 1,
            ),
            task_reader=TaskReader(self.data_store, record.template_uri),
            input_reader=RemoteFileInputReader(self.data_store, record.inputs_uri),
            output_writer=writer,
            secret_manager=self.secret_manager,
            data_store=self.data_store,
        )
        return AttemptContext(context, writer, paths)

    def output_reader(self, record: ExecutionRecord) -> RemoteFileOutputReader:
        """Reads the outputs or error of the record's current attempt from storage."""
        paths = RemoteFileOutputPaths(self.output_prefix(record))
        return RemoteFileOutputReader(self.data_store, paths)
