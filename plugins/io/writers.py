"""Output writers (Go's ``RemoteFileOutputWriter`` and ``BufferedOutputWriter``)."""

from __future__ import annotations

from flyteidl.core import errors_pb2

from plugins.core.phase import ExecutionError
from plugins.errors import FlyteCeleryError
from plugins.idl import timestamp_from_datetime
from plugins.io.datastore import DataStore
from plugins.io.interfaces import DataReference, OutputFilePaths, OutputReader

__all__ = ["BufferedOutputWriter", "RemoteFileOutputWriter", "error_document"]


def error_document(err: ExecutionError) -> errors_pb2.ErrorDocument:
    """The ``ErrorDocument`` that records ``err``.

    Unlike Flyte, the origin (USER/SYSTEM), timestamp and worker are kept, so an
    error reads back exactly as it was written.
    """
    kind = (
        errors_pb2.ContainerError.RECOVERABLE
        if err.is_recoverable
        else errors_pb2.ContainerError.NON_RECOVERABLE
    )
    container = errors_pb2.ContainerError(
        code=err.code, message=err.message, kind=kind, origin=err.kind.name, worker=err.worker
    )
    if err.timestamp is not None:
        container.timestamp.CopyFrom(timestamp_from_datetime(err.timestamp))
    return errors_pb2.ErrorDocument(error=container)


class _PathsDelegate:
    """Answers every path question from the wrapped :class:`OutputFilePaths`."""

    def __init__(self, paths: OutputFilePaths) -> None:
        self.paths = paths

    def get_output_prefix_path(self) -> DataReference:
        """The output directory."""
        return self.paths.get_output_prefix_path()

    def get_output_path(self) -> DataReference:
        """The ``outputs.pb`` file."""
        return self.paths.get_output_path()

    def get_deck_path(self) -> DataReference:
        """The ``deck.html`` file."""
        return self.paths.get_deck_path()

    def get_error_path(self) -> DataReference:
        """The ``error.pb`` file."""
        return self.paths.get_error_path()

    def get_raw_output_prefix(self) -> DataReference:
        """The attempt's raw prefix."""
        return self.paths.get_raw_output_prefix()

    def get_checkpoint_prefix(self) -> DataReference:
        """The attempt's checkpoint prefix."""
        return self.paths.get_checkpoint_prefix()

    def get_previous_checkpoints_prefix(self) -> DataReference:
        """The previous attempt's checkpoint prefix."""
        return self.paths.get_previous_checkpoints_prefix()


class RemoteFileOutputWriter(_PathsDelegate):
    """Commits what a reader holds to storage: ``outputs.pb`` or ``error.pb``.

    Args:
        store: The blob store.
        paths: The attempt's output paths.
    """

    def __init__(self, store: DataStore, paths: OutputFilePaths) -> None:
        super().__init__(paths)
        self._store = store

    def put(self, reader: OutputReader) -> None:
        """Write the reader's error document or outputs.

        Raises:
            FlyteCeleryError: The reader holds neither outputs nor an error.
            StorageError: Writing failed.
        """
        literals, err = reader.read()
        if err is not None:
            self._store.write_protobuf(self.get_error_path(), error_document(err))
            return
        if literals is not None:
            self._store.write_protobuf(self.get_output_path(), literals)
            return
        raise FlyteCeleryError("no data found to write")


class BufferedOutputWriter(_PathsDelegate):
    """Records the reader a plugin puts, so the engine can validate and commit it later.

    Args:
        paths: The attempt's output paths.
    """

    def __init__(self, paths: OutputFilePaths) -> None:
        super().__init__(paths)
        self.reader: OutputReader | None = None

    def put(self, reader: OutputReader) -> None:
        """Remember ``reader``; the last call wins."""
        self.reader = reader
