"""An execution's attempts and phases against time, for the execution page.

Each attempt is a lane; each phase it went through is a segment of it, from the event
that entered the phase to the next event (or to the end, or now). Changes of a phase's
version (``QUEUED`` v0, then v2 "launched") stay inside one segment: the events table
lists them, the timeline shows how long each phase took.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler._model import Event, ExecutionRecord

__all__ = ["Lane", "Segment", "Timeline", "timeline"]

_THINNEST = 0.4
"""The narrowest segment drawn, in percent of the width: an instant stays visible."""


@dataclass(frozen=True)
class Segment:
    """One phase of one attempt.

    Attributes:
        phase: The phase's name.
        started: When it was entered.
        lasted: How long it lasted (to the next change, the end, or now).
        left: Where it starts, in percent of the timeline's width.
        width: How wide it is, in percent.
    """

    phase: str
    started: datetime
    lasted: timedelta
    left: float
    width: float


@dataclass(frozen=True)
class Lane:
    """One attempt (from 0) and its phases in order."""

    attempt: int
    segments: list[Segment]


@dataclass(frozen=True)
class Timeline:
    """The lanes, and the span they cover: submission to the end, or to now."""

    lanes: list[Lane]
    start: datetime
    span: timedelta


def timeline(events: Sequence[Event], record: ExecutionRecord, now: datetime) -> Timeline:
    """The attempts and phases of ``events`` (oldest first), from submission to the end or now."""
    start = record.created_at
    end = max(start, record.updated_at if record.finished else now)
    span = end - start
    total = span.total_seconds() or 1.0
    ordered = sorted(events, key=lambda e: e.occurred_at)
    # One entry per change of (attempt, phase): a new version is the same segment.
    entries: list[Event] = []
    for event in ordered:
        if entries and (entries[-1].attempt, entries[-1].phase) == (event.attempt, event.phase):
            continue
        entries.append(event)
    lanes: dict[int, list[Segment]] = {}
    for index, event in enumerate(entries):
        began = min(max(event.occurred_at, start), end)
        until = entries[index + 1].occurred_at if index + 1 < len(entries) else end
        lasted = max(timedelta(0), min(until, end) - began)
        left = (began - start).total_seconds() / total * 100
        width = max(lasted.total_seconds() / total * 100, _THINNEST)
        segment = Segment(event.phase.name, began, lasted, round(left, 2), round(width, 2))
        lanes.setdefault(event.attempt, []).append(segment)
    return Timeline([Lane(a, s) for a, s in sorted(lanes.items())], start, span)
