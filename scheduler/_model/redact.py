"""Masking the free text of a record and its events (see scheduler._runtime.redaction).

Only text meant for people is touched (reasons and error messages), never ids,
URIs or keys, so masking can never corrupt a record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from scheduler._model.record import Event, ExecutionRecord

__all__ = ["redact_event", "redact_record"]

Redact = Callable[[str], str]


def _phase_info(data: Any, redact: Redact) -> Any:
    if not isinstance(data, dict):
        return data
    masked = dict(data)
    if isinstance(masked.get("reason"), str):
        masked["reason"] = redact(masked["reason"])
    err = masked.get("err")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        masked["err"] = {**err, "message": redact(err["message"])}
    return masked


def redact_record(record: ExecutionRecord, redact: Redact) -> ExecutionRecord:
    """The record with its reasons and error messages masked."""
    last = record.last_error
    return replace(
        record,
        reason=redact(record.reason),
        teardown_reason=redact(record.teardown_reason),
        last_error=None if last is None else replace(last, message=redact(last.message)),
        webapi=replace(record.webapi, error_message=redact(record.webapi.error_message)),
        phase_info=_phase_info(record.phase_info, redact),
    )


def redact_event(event: Event, redact: Redact) -> Event:
    """The event with its reason masked."""
    return replace(event, reason=redact(event.reason))
