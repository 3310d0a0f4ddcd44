"""Input and output readers (Go's ``ioutils`` remote-file, cached and in-memory readers).

Error documents are read as Flyte does:

=====================  ========================================================
error file             resulting :class:`ExecutionError`
=====================  ========================================================
missing                ``ErrorFileNotFound``, SYSTEM, recoverable
no error inside        ``ErrorFileBadFormat``, SYSTEM, recoverable
does not parse         ``ErrorFileBadFormat``, SYSTEM, recoverable (Flyte: a round error)
normal                 its code and message; kind = its origin; recoverable iff
                       ``ContainerError.kind`` is RECOVERABLE; timestamp and worker
=====================  ========================================================

With :attr:`ErrorAggregationStrategy.EARLIEST` every ``error*.pb`` beside
``error.pb`` is read and the one with the earliest timestamp wins (a missing
timestamp counts as the epoch, as in Go).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from flyteidl.core import errors_pb2, literals_pb2

from plugins.core.phase import ErrorKind, ExecutionError
from plugins.core.plugin import ErrorAggregationStrategy
from plugins.errors import (
    FlyteCeleryError,
    InputReadError,
    MalformedProtobufError,
    RemoteFileExceedsMaxSizeError,
    RemoteFileNotFoundError,
    StorageError,
)
from plugins.idl import datetime_from_timestamp
from plugins.io.datastore import DataStore
from plugins.io.interfaces import DataReference, InputFilePaths, InputReader, OutputFilePaths
from plugins.io.paths import SimpleInputFilePaths

__all__ = [
    "ERROR_FILE_BAD_FORMAT",
    "ERROR_FILE_NOT_FOUND",
    "NO_OUTPUTS_PRODUCED",
    "CachedInputReader",
    "EarliestFileErrorReader",
    "InMemoryOutputReader",
    "RemoteFileInputReader",
    "RemoteFileOutputReader",
    "SingleFileErrorReader",
    "error_document_to_execution_error",
]

ERROR_FILE_NOT_FOUND = "ErrorFileNotFound"
ERROR_FILE_BAD_FORMAT = "ErrorFileBadFormat"
NO_OUTPUTS_PRODUCED = "No outputs produced"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RemoteFileInputReader:
    """Reads ``inputs.pb`` from storage.

    Args:
        store: The blob store.
        paths: The input paths, or the input prefix.
    """

    def __init__(self, store: DataStore, paths: InputFilePaths | DataReference) -> None:
        self._store = store
        self._paths = SimpleInputFilePaths(paths) if isinstance(paths, str) else paths

    def get_input_prefix_path(self) -> DataReference:
        """The input directory."""
        return self._paths.get_input_prefix_path()

    def get_input_path(self) -> DataReference:
        """The ``inputs.pb`` file."""
        return self._paths.get_input_path()

    def get(self) -> literals_pb2.LiteralMap:
        """Read the inputs.

        Raises:
            InputReadError: Missing, too large or malformed (code ``READ_FAILED``);
                the message names the file and the cause.
        """
        path = self.get_input_path()
        try:
            return self._store.read_protobuf(path, literals_pb2.LiteralMap)
        except StorageError as exc:
            raise InputReadError(f"failed to read data from dataDir [{path}]: {exc}") from exc


class CachedInputReader:
    """Memoises the first successful read of another input reader (thread-safe)."""

    def __init__(self, inner: InputReader) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self._cached: literals_pb2.LiteralMap | None = None

    def get_input_prefix_path(self) -> DataReference:
        """The input directory."""
        return self._inner.get_input_prefix_path()

    def get_input_path(self) -> DataReference:
        """The ``inputs.pb`` file."""
        return self._inner.get_input_path()

    def get(self) -> literals_pb2.LiteralMap:
        """The inputs, read once."""
        with self._lock:
            if self._cached is None:
                self._cached = self._inner.get()
            return self._cached


def error_document_to_execution_error(
    doc: errors_pb2.ErrorDocument, path: DataReference
) -> ExecutionError:
    """Turn an ``ErrorDocument`` into an :class:`ExecutionError` as Flyte does."""
    if not doc.HasField("error"):
        return ExecutionError(
            code=ERROR_FILE_BAD_FORMAT,
            message=f"error not formatted correctly, nil error @path [{path}]",
            kind=ErrorKind.SYSTEM,
            is_recoverable=True,
        )
    err = doc.error
    return ExecutionError(
        code=err.code,
        message=err.message,
        kind=ErrorKind(err.origin),
        is_recoverable=err.kind == errors_pb2.ContainerError.RECOVERABLE,
        timestamp=datetime_from_timestamp(err.timestamp) if err.HasField("timestamp") else None,
        worker=err.worker,
    )


def _bad_format(path: DataReference, exc: Exception) -> ExecutionError:
    return ExecutionError(
        code=ERROR_FILE_BAD_FORMAT,
        message=f"error file @path [{path}] could not be parsed: {exc}",
        kind=ErrorKind.SYSTEM,
        is_recoverable=True,
    )


def _check_size(path: DataReference, size: int, limit: int) -> None:
    if size > limit:
        raise RemoteFileExceedsMaxSizeError(
            f"output file @[{path}] is too large [{size}] bytes, max allowed [{limit}] bytes"
        )


class SingleFileErrorReader:
    """Reads the one ``error.pb`` of an attempt."""

    def __init__(self, store: DataStore, error_path: DataReference, max_payload_size: int) -> None:
        self._store = store
        self._path = error_path
        self._limit = max_payload_size

    def is_error(self) -> bool:
        """Whether ``error.pb`` exists.

        Raises:
            RemoteFileExceedsMaxSizeError: It exists but is too large.
        """
        meta = self._store.head(self._path)
        if meta.exists:
            _check_size(self._path, meta.size, self._limit)
        return meta.exists

    def read_error(self) -> ExecutionError:
        """The error in ``error.pb``; a missing file is a recoverable SYSTEM error."""
        try:
            doc = self._store.read_protobuf(
                self._path, errors_pb2.ErrorDocument, max_size=self._limit
            )
        except RemoteFileNotFoundError as exc:
            return ExecutionError(
                code=ERROR_FILE_NOT_FOUND,
                message=str(exc),
                kind=ErrorKind.SYSTEM,
                is_recoverable=True,
            )
        except MalformedProtobufError as exc:
            return _bad_format(self._path, exc)
        return error_document_to_execution_error(doc, self._path)


class EarliestFileErrorReader:
    """Reads every ``error*.pb`` in the error directory and reports the earliest error."""

    def __init__(self, store: DataStore, error_path: DataReference, max_payload_size: int) -> None:
        directory, _, filename = error_path.rpartition("/")
        stem, dot, extension = filename.partition(".")
        if not dot or "." in extension:
            raise ValueError(f"expected the error file name to have a single dot, got {filename!r}")
        self._store = store
        self._prefix = f"{directory}/{stem}"
        self._extension = f".{extension}"
        self._limit = max_payload_size

    def _files(self) -> list[DataReference]:
        return [p for p in self._store.list(self._prefix) if p.endswith(self._extension)]

    def is_error(self) -> bool:
        """Whether any error file exists; each is size-checked."""
        files = self._files()
        for path in files:
            _check_size(path, self._store.head(path).size, self._limit)
        return bool(files)

    def read_error(self) -> ExecutionError:
        """The error with the earliest timestamp (ties: the first by file name)."""
        earliest: tuple[datetime, ExecutionError] | None = None
        for path in self._files():
            try:
                doc = self._store.read_protobuf(
                    path, errors_pb2.ErrorDocument, max_size=self._limit
                )
            except MalformedProtobufError as exc:
                candidate = _bad_format(path, exc)
            else:
                candidate = error_document_to_execution_error(doc, path)
            when = candidate.timestamp or _EPOCH
            if earliest is None or when < earliest[0]:
                earliest = (when, candidate)
        if earliest is None:
            return ExecutionError(
                code=ERROR_FILE_NOT_FOUND,
                message=f"no error files found with prefix {self._prefix}",
                kind=ErrorKind.SYSTEM,
                is_recoverable=True,
            )
        return earliest[1]


class RemoteFileOutputReader:
    """Reads the outputs and errors an attempt left in storage.

    Args:
        store: The blob store.
        paths: The attempt's output paths.
        max_payload_size: The largest file to read; 0 means the store's limit.
        error_aggregation_strategy: How to read error files.
    """

    def __init__(
        self,
        store: DataStore,
        paths: OutputFilePaths,
        max_payload_size: int = 0,
        error_aggregation_strategy: ErrorAggregationStrategy = ErrorAggregationStrategy.DEFAULT,
    ) -> None:
        self._store = store
        self._paths = paths
        self._limit = max_payload_size or store.max_download_bytes
        strategy = ErrorAggregationStrategy(error_aggregation_strategy)
        error_path = paths.get_error_path()
        self._errors: SingleFileErrorReader | EarliestFileErrorReader
        if strategy is ErrorAggregationStrategy.EARLIEST:
            self._errors = EarliestFileErrorReader(store, error_path, self._limit)
        else:
            self._errors = SingleFileErrorReader(store, error_path, self._limit)

    def is_error(self) -> bool:
        """Whether an error document exists."""
        return self._errors.is_error()

    def read_error(self) -> ExecutionError:
        """The attempt's error."""
        return self._errors.read_error()

    def is_file(self) -> bool:
        """Always true: the outputs already sit at the output paths."""
        return True

    def exists(self) -> bool:
        """Whether ``outputs.pb`` exists.

        Raises:
            RemoteFileExceedsMaxSizeError: It exists but is too large.
        """
        path = self._paths.get_output_path()
        meta = self._store.head(path)
        if meta.exists:
            _check_size(path, meta.size, self._limit)
        return meta.exists

    def read(self) -> tuple[literals_pb2.LiteralMap | None, ExecutionError | None]:
        """The outputs; an empty map is a recoverable "No outputs produced" error.

        Raises:
            StorageError: ``outputs.pb`` is missing, too large or malformed.
        """
        path = self._paths.get_output_path()
        try:
            outputs = self._store.read_protobuf(path, literals_pb2.LiteralMap, max_size=self._limit)
        except StorageError as exc:
            raise StorageError(
                f"failed to read data from dataDir [{path}]: {exc}", code=exc.code
            ) from exc
        if not outputs.literals:
            return None, ExecutionError(
                code=NO_OUTPUTS_PRODUCED,
                message=f"outputs not found at [{path}]",
                is_recoverable=True,
            )
        return outputs, None

    def deck_exists(self) -> bool:
        """Whether ``deck.html`` exists."""
        return self._store.head(self._paths.get_deck_path()).exists


class InMemoryOutputReader:
    """Outputs or an error held in memory, e.g. returned inline by a sync plugin.

    Args:
        literals: The outputs, if any.
        deck_path: Where a deck was written, if anywhere.
        err: The error, if the task failed.
    """

    def __init__(
        self,
        literals: literals_pb2.LiteralMap | None = None,
        deck_path: DataReference | None = None,
        err: ExecutionError | None = None,
    ) -> None:
        self._literals = literals
        self._err = err
        self.deck_path = deck_path

    def is_error(self) -> bool:
        """Whether an error is held."""
        return self._err is not None

    def read_error(self) -> ExecutionError:
        """The held error.

        Raises:
            FlyteCeleryError: No error is held.
        """
        if self._err is None:
            raise FlyteCeleryError("no execution error specified")
        return self._err

    def is_file(self) -> bool:
        """Always false: the outputs still have to be written."""
        return False

    def exists(self) -> bool:
        """Whether outputs are held."""
        return self._literals is not None

    def read(self) -> tuple[literals_pb2.LiteralMap | None, ExecutionError | None]:
        """The held outputs and error."""
        return self._literals, self._err

    def deck_exists(self) -> bool:
        """Whether a deck path is known."""
        return self.deck_path is not None
