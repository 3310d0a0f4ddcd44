"""An execution's files in storage, as a client reads them: template, inputs, outputs."""

from __future__ import annotations

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.errors import FlyteCeleryError
from plugins.io import RemoteFileInputReader
from plugins.io.readers import NO_OUTPUTS_PRODUCED
from plugins.tasks import TransformContext
from scheduler._model import ExecutionRecord
from scheduler._runtime import Runtime

__all__ = ["ExecutionFiles"]


class ExecutionFiles:
    """Reads executions' files with the client's storage options.

    Args:
        runtime: The client's runtime.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def template(self, record: ExecutionRecord) -> tasks_pb2.TaskTemplate:
        """The template the execution runs, as it was submitted (``task.pb``).

        Raises:
            StorageError: It cannot be read, or is not a ``TaskTemplate``.
        """
        return self._runtime.data_store.read_protobuf(record.template_uri, tasks_pb2.TaskTemplate)

    def inputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The inputs the execution was submitted with.

        Raises:
            InputReadError: ``inputs.pb`` is missing, too large or malformed.
        """
        return RemoteFileInputReader(self._runtime.data_store, record.inputs_uri).get()

    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution (empty if the task declares none)."""
        reader = self._runtime.contexts.output_reader(record)
        if not reader.exists():
            return literals_pb2.LiteralMap()
        literals, err = reader.read()
        if err is not None and err.code == NO_OUTPUTS_PRODUCED:
            # An empty map serializes to zero bytes: a task without outputs, not an error.
            return literals_pb2.LiteralMap()
        if err is not None:
            raise FlyteCeleryError(f"{record.id}: {err}")
        return literals or literals_pb2.LiteralMap()

    def transform(self) -> TransformContext:
        """Converts outputs to Python values, reading the blobs they point at."""
        return TransformContext(self._runtime.data_store, "")
