"""The IO interfaces of a task attempt (Go's ``pluginmachinery/io/iface.go``, in snake_case).

Paths are plain strings (:data:`DataReference`): any fsspec URL such as
``s3://bucket/key``, ``file:///tmp/x`` or ``memory://x``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from flyteidl.core import literals_pb2

from plugins.core.phase import ExecutionError

__all__ = [
    "CheckpointPaths",
    "DataReference",
    "ErrorReader",
    "InputFilePaths",
    "InputReader",
    "OutputFilePaths",
    "OutputReader",
    "OutputWriter",
    "RawOutputPaths",
]

DataReference = str
"""A blob location: an fsspec URL or a local path."""


@runtime_checkable
class InputFilePaths(Protocol):
    """Where an attempt's inputs live."""

    def get_input_prefix_path(self) -> DataReference:
        """The directory holding the inputs."""
        ...

    def get_input_path(self) -> DataReference:
        """The ``inputs.pb`` file (a ``LiteralMap``)."""
        ...


@runtime_checkable
class InputReader(InputFilePaths, Protocol):
    """Reads an attempt's inputs."""

    def get(self) -> literals_pb2.LiteralMap:
        """Return the inputs.

        Raises:
            InputReadError: They cannot be read (code ``READ_FAILED``).
        """
        ...


@runtime_checkable
class ErrorReader(Protocol):
    """Reads the error documents a task left."""

    def is_error(self) -> bool:
        """Whether an error document exists."""
        ...

    def read_error(self) -> ExecutionError:
        """The error the documents describe."""
        ...


@runtime_checkable
class OutputReader(ErrorReader, Protocol):
    """Reads what a task produced: outputs or an error."""

    def is_file(self) -> bool:
        """True when the outputs already sit at the output paths (nothing to commit)."""
        ...

    def exists(self) -> bool:
        """Whether outputs exist.

        Raises:
            RemoteFileExceedsMaxSizeError: They exist but are too large to read.
        """
        ...

    def read(self) -> tuple[literals_pb2.LiteralMap | None, ExecutionError | None]:
        """Return ``(outputs, None)`` or ``(None, error)``. Storage failures are raised."""
        ...

    def deck_exists(self) -> bool:
        """Whether a deck (``deck.html``) exists."""
        ...


@runtime_checkable
class RawOutputPaths(Protocol):
    """Where a task may write large raw data (files, directories, checkpoints)."""

    def get_raw_output_prefix(self) -> DataReference:
        """The attempt's unique raw output prefix."""
        ...


@runtime_checkable
class CheckpointPaths(Protocol):
    """Where an attempt checkpoints, and where the previous attempt did."""

    def get_previous_checkpoints_prefix(self) -> DataReference:
        """The previous attempt's checkpoint prefix, or ``""``."""
        ...

    def get_checkpoint_prefix(self) -> DataReference:
        """This attempt's checkpoint prefix (``<raw prefix>/_flytecheckpoints``)."""
        ...


@runtime_checkable
class OutputFilePaths(RawOutputPaths, CheckpointPaths, Protocol):
    """Where an attempt's outputs, errors and deck go."""

    def get_output_prefix_path(self) -> DataReference:
        """The output directory."""
        ...

    def get_output_path(self) -> DataReference:
        """The ``outputs.pb`` file."""
        ...

    def get_deck_path(self) -> DataReference:
        """The ``deck.html`` file."""
        ...

    def get_error_path(self) -> DataReference:
        """The ``error.pb`` file (a ``core.ErrorDocument``)."""
        ...


@runtime_checkable
class OutputWriter(OutputFilePaths, Protocol):
    """Records what a task produced."""

    def put(self, reader: OutputReader) -> None:
        """Record the outputs or error that ``reader`` holds."""
        ...
