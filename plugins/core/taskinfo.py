"""TaskInfo: what a plugin reports about a task besides its phase (Go's ``core.TaskInfo``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flyteidl.core import catalog_pb2, execution_pb2

from plugins.core.phase import Phase
from plugins.idl import (
    JSONValue,
    datetime_from_json,
    datetime_to_json,
    message_from_json,
    message_to_json,
    utc,
)

__all__ = ["ExternalResource", "ReasonInfo", "TaskInfo"]


def _logs_to_json(logs: Sequence[execution_pb2.TaskLog]) -> list[JSONValue]:
    return [message_to_json(log) for log in logs]


def _logs_from_json(data: Sequence[Any]) -> tuple[execution_pb2.TaskLog, ...]:
    return tuple(message_from_json(execution_pb2.TaskLog, item) for item in data)


def _freeze_custom(value: Mapping[str, JSONValue] | None) -> dict[str, JSONValue] | None:
    return None if value is None else dict(value)


@dataclass(frozen=True)
class ExternalResource:
    """One sub-job a plugin launched, e.g. an array element or a remote query.

    Attributes:
        external_id: The remote system's id for it.
        index: A stable index that survives retries and id changes.
        logs: Log links for it.
        retry_attempt: How often it has been attempted.
        phase: Its own phase, if known.
        cache_status: flyteidl ``CatalogCacheStatus`` value.
        custom_info: Plugin-specific JSON information.
    """

    external_id: str
    index: int = 0
    logs: tuple[execution_pb2.TaskLog, ...] = ()
    retry_attempt: int = 0
    phase: Phase = Phase.UNDEFINED
    cache_status: int = catalog_pb2.CACHE_DISABLED
    custom_info: Mapping[str, JSONValue] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "logs", tuple(self.logs))
        object.__setattr__(self, "phase", Phase(self.phase))
        object.__setattr__(self, "custom_info", _freeze_custom(self.custom_info))

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict; :meth:`from_dict` reverses it."""
        return {
            "external_id": self.external_id,
            "index": self.index,
            "logs": _logs_to_json(self.logs),
            "retry_attempt": self.retry_attempt,
            "phase": self.phase.name,
            "cache_status": self.cache_status,
            "custom_info": self.custom_info,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExternalResource:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            external_id=data["external_id"],
            index=int(data.get("index", 0)),
            logs=_logs_from_json(data.get("logs", ())),
            retry_attempt=int(data.get("retry_attempt", 0)),
            phase=Phase.from_string(data.get("phase", "UNDEFINED")),
            cache_status=int(data.get("cache_status", catalog_pb2.CACHE_DISABLED)),
            custom_info=data.get("custom_info"),
        )


@dataclass(frozen=True)
class ReasonInfo:
    """An extra reason with the time it happened (Go's ``core.ReasonInfo``)."""

    reason: str
    occurred_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.occurred_at is not None:
            object.__setattr__(self, "occurred_at", utc(self.occurred_at))


@dataclass(frozen=True)
class TaskInfo:
    """Logs, times and plugin-specific information attached to a :class:`PhaseInfo`.

    Attributes:
        logs: Log links, as flyteidl ``core.TaskLog``.
        occurred_at: When the observed state happened; PhaseInfo constructors
            default it to now.
        reported_at: When it was reported, if different.
        custom_info: Plugin-specific JSON shown to users (Go's ``structpb.Struct``).
        external_resources: Sub-jobs launched by the task.
        additional_reasons: Further reasons, not part of the phase state.
    """

    logs: Sequence[execution_pb2.TaskLog] = ()
    occurred_at: datetime | None = None
    reported_at: datetime | None = None
    custom_info: Mapping[str, JSONValue] | None = None
    external_resources: Sequence[ExternalResource] = ()
    additional_reasons: Sequence[ReasonInfo] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "logs", tuple(self.logs))
        object.__setattr__(self, "external_resources", tuple(self.external_resources))
        object.__setattr__(self, "additional_reasons", tuple(self.additional_reasons))
        object.__setattr__(self, "custom_info", _freeze_custom(self.custom_info))
        for name in ("occurred_at", "reported_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, utc(value))

    def to_dict(self) -> dict[str, JSONValue]:
        """A JSON-compatible dict; :meth:`from_dict` reverses it."""
        return {
            "logs": _logs_to_json(self.logs),
            "occurred_at": datetime_to_json(self.occurred_at),
            "reported_at": datetime_to_json(self.reported_at),
            "custom_info": self.custom_info,
            "external_resources": [r.to_dict() for r in self.external_resources],
            "additional_reasons": [
                {"reason": r.reason, "occurred_at": datetime_to_json(r.occurred_at)}
                for r in self.additional_reasons
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskInfo:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            logs=_logs_from_json(data.get("logs", ())),
            occurred_at=datetime_from_json(data.get("occurred_at")),
            reported_at=datetime_from_json(data.get("reported_at")),
            custom_info=data.get("custom_info"),
            external_resources=tuple(
                ExternalResource.from_dict(r) for r in data.get("external_resources", ())
            ),
            additional_reasons=tuple(
                ReasonInfo(r["reason"], datetime_from_json(r.get("occurred_at")))
                for r in data.get("additional_reasons", ())
            ),
        )

    def __str__(self) -> str:
        when = "<nil>" if self.occurred_at is None else self.occurred_at.isoformat()
        return f"Info<@{when}>"
