"""Phases and execution errors: the Python twin of the enums in Go's ``core/phase.go``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flyteidl.core import execution_pb2

from plugins.errors import InvalidPhaseError
from plugins.idl import (
    JSONValue,
    datetime_from_json,
    datetime_from_timestamp,
    datetime_to_json,
    timestamp_from_datetime,
    utc,
)

__all__ = [
    "DEFAULT_PHASE_VERSION",
    "MAX_PHASE_VERSION",
    "SYSTEM_ERROR_CODE",
    "ErrorKind",
    "ExecutionError",
    "Phase",
]

DEFAULT_PHASE_VERSION = 0
"""The version of a phase that carries no extra information."""

SYSTEM_ERROR_CODE = "SystemError"
"""The error code Flyte uses for failures of the platform rather than of user code."""

MAX_PHASE_VERSION = 2**32 - 1
"""Phase versions are uint32 in Flyte."""


class Phase(enum.IntEnum):
    """The phase of one task-execution attempt, in Flyte's order.

    ``str(phase)`` and ``phase.name`` give ours (``"RUNNING"``), as the CLI and the
    console show it; :attr:`flyte_name` gives Flyte's (``"PhaseRunning"``), as
    :class:`PhaseInfo` prints it. :meth:`from_string` accepts both.
    """

    UNDEFINED = 0
    NOT_READY = 1
    WAITING_FOR_RESOURCES = 2
    QUEUED = 3
    INITIALIZING = 4
    RUNNING = 5
    SUCCESS = 6
    RETRYABLE_FAILURE = 7
    PERMANENT_FAILURE = 8
    WAITING_FOR_CACHE = 9
    ABORTED = 10

    def is_terminal(self) -> bool:
        """Whether nothing more will happen to this attempt: success, a failure or aborted."""
        return self.is_failure() or self.is_success() or self.is_aborted()

    def is_success(self) -> bool:
        """Whether the phase is SUCCESS."""
        return self is Phase.SUCCESS

    def is_failure(self) -> bool:
        """Whether the phase is RETRYABLE_FAILURE or PERMANENT_FAILURE."""
        return self in (Phase.RETRYABLE_FAILURE, Phase.PERMANENT_FAILURE)

    def is_aborted(self) -> bool:
        """Whether the phase is ABORTED."""
        return self is Phase.ABORTED

    def is_waiting_for_resources(self) -> bool:
        """Whether the phase is WAITING_FOR_RESOURCES."""
        return self is Phase.WAITING_FOR_RESOURCES

    @property
    def flyte_name(self) -> str:
        """Flyte's name of the phase, e.g. ``"PhaseWaitingForResources"``."""
        return "Phase" + "".join(part.capitalize() for part in self.name.split("_"))

    def __str__(self) -> str:
        # What a user reads everywhere else; print(execution.phase) showed "PhaseSuccess".
        return self.name

    @classmethod
    def from_string(cls, value: str | Phase) -> Phase:
        """Parse Flyte's name (``"PhaseRunning"``) or ours (``"RUNNING"``, any case).

        Raises:
            InvalidPhaseError: ``value`` names no phase; the message lists the valid names.
        """
        if isinstance(value, Phase):
            return value
        if isinstance(value, str):
            text = value.strip()
            # Explicit lookups: Phase.UNDEFINED is 0, so an ``or`` chain would skip it.
            if text.upper() in _PHASE_BY_NAME:
                return _PHASE_BY_NAME[text.upper()]
            if text in _PHASE_BY_FLYTE_NAME:
                return _PHASE_BY_FLYTE_NAME[text]
        valid = ", ".join(p.name for p in cls)
        raise InvalidPhaseError(
            f"unknown phase {value!r}: expected one of {valid}, or Flyte's names such as "
            f"'PhaseRunning'"
        )


_PHASE_BY_NAME = {p.name: p for p in Phase}
_PHASE_BY_FLYTE_NAME = {p.flyte_name: p for p in Phase}


class ErrorKind(enum.IntEnum):
    """Who is to blame for an error; the values equal flyteidl's ``ExecutionError.ErrorKind``."""

    UNKNOWN = execution_pb2.ExecutionError.UNKNOWN
    USER = execution_pb2.ExecutionError.USER
    SYSTEM = execution_pb2.ExecutionError.SYSTEM


@dataclass(frozen=True)
class ExecutionError:
    """A flyteidl ``core.ExecutionError`` and whether a retry may help (``io.ExecutionError``).

    Attributes:
        code: A short machine-readable code, e.g. ``"TaskFailedWithError"``.
        message: The human-readable message.
        kind: USER when user code or input is at fault, SYSTEM for the platform.
        is_recoverable: Whether retrying the task may succeed.
        error_uri: Where the full error document lives, if anywhere.
        timestamp: When the error happened, if known.
        worker: Which worker reported it, if known.
    """

    code: str
    message: str
    kind: ErrorKind = ErrorKind.UNKNOWN
    is_recoverable: bool = False
    error_uri: str = ""
    timestamp: datetime | None = None
    worker: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ErrorKind(self.kind))
        if self.timestamp is not None:
            object.__setattr__(self, "timestamp", utc(self.timestamp))

    @property
    def execution_error(self) -> execution_pb2.ExecutionError:
        """The wrapped flyteidl ``core.ExecutionError``."""
        return self.to_flyte_idl()

    def to_flyte_idl(self) -> execution_pb2.ExecutionError:
        """Build the flyteidl ``core.ExecutionError`` (``is_recoverable`` has no field there)."""
        pb = execution_pb2.ExecutionError(
            code=self.code,
            message=self.message,
            kind=self.kind.name,
            error_uri=self.error_uri,
            worker=self.worker,
        )
        if self.timestamp is not None:
            pb.timestamp.CopyFrom(timestamp_from_datetime(self.timestamp))
        return pb

    @classmethod
    def from_flyte_idl(
        cls, pb: execution_pb2.ExecutionError, *, is_recoverable: bool = False
    ) -> ExecutionError:
        """Wrap a flyteidl ``core.ExecutionError``."""
        return cls(
            code=pb.code,
            message=pb.message,
            kind=ErrorKind(pb.kind),
            is_recoverable=is_recoverable,
            error_uri=pb.error_uri,
            timestamp=datetime_from_timestamp(pb.timestamp) if pb.HasField("timestamp") else None,
            worker=pb.worker,
        )

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict; :meth:`from_dict` reverses it."""
        return {
            "code": self.code,
            "message": self.message,
            "kind": self.kind.name,
            "is_recoverable": self.is_recoverable,
            "error_uri": self.error_uri,
            "timestamp": datetime_to_json(self.timestamp),
            "worker": self.worker,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionError:
        """Rebuild an error from :meth:`to_dict` output."""
        return cls(
            code=data["code"],
            message=data["message"],
            kind=ErrorKind[data.get("kind", "UNKNOWN")],
            is_recoverable=bool(data.get("is_recoverable", False)),
            error_uri=data.get("error_uri", ""),
            timestamp=datetime_from_json(data.get("timestamp")),
            worker=data.get("worker", ""),
        )

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
