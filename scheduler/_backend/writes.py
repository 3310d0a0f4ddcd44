"""The keys and arguments of the store's three write scripts.

- ``lua/create.lua``: the one way records come to be, one or many at once. A record starts
  as a plain submission (pending, in no other index), which needs none of
  ``transition.lua``'s checks, so :meth:`ExecutionStore.create_many
  <scheduler._backend.ExecutionStore.create_many>` stores :data:`CREATES_PER_CALL` per call.
- ``lua/transition.lua``: the compare-and-set of a record that exists, with its events and
  every index derived from it.
- ``lua/touch.lua``: the compare-and-set of hot fields alone (a claim, the next Get), for
  many records in one call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from scheduler._backend.indexes import COUNTS, counter, ms_or_empty
from scheduler._backend.keys import Keys
from scheduler._backend.records import (
    encode_doc,
    encode_event,
    encode_hot,
    encode_route,
    hot_only,
)
from scheduler._model import Event, ExecutionRecord, evolve

__all__ = [
    "CREATES_PER_CALL",
    "Write",
    "create_calls",
    "is_light",
    "plain",
    "stored_as",
    "touch_call",
    "transition_call",
]

_JSON = json.JSONEncoder(separators=(",", ":"))

Write = tuple[ExecutionRecord, ExecutionRecord, Sequence[Event]]
"""One write: the record as read, the new one as stored, extra events to log first."""

CREATES_PER_CALL = 100
"""Records per ``lua/create.lua`` call: Redis runs one script at a time, and a longer one
would hold up the scheduler's and workers' calls."""

_INDEXES = ("all", "pending", "due", "timeouts", "claims", "finished", COUNTS)
"""The indexes ``lua/create.lua`` takes, in its order."""


def stored_as(new: ExecutionRecord, version: Any) -> ExecutionRecord | None:
    """The record as written, with the version the script returned; None on a conflict."""
    return None if int(version) < 0 else evolve(new, version=int(version))


def is_light(current: ExecutionRecord, new: ExecutionRecord, events: Sequence[Event]) -> bool:
    """Whether the write only moves hot fields (a claim, the next Get): no doc, no event."""
    return not events and not new.finished and hot_only(current, new)


def plain(new: ExecutionRecord) -> bool:
    """Whether a new record is a plain submission: pending, in no other index (create.lua)."""
    return (
        new.pending
        and not new.finished
        and new.next_get_at is None
        and new.deadline is None
        and not new.claim
        and new.waiting_namespace is None
        and new.waiting_queue is None
    )


def waiting_index(keys: Keys, record: ExecutionRecord) -> str:
    """The index ``record`` waits in: a quota namespace's, a queue's, or none (an empty one)."""
    if record.finished:
        return keys.waiting(None)
    if record.waiting_queue is not None:
        return keys.backlog(record.waiting_queue)
    return keys.waiting(record.waiting_namespace)


def create_calls(
    keys: Keys, records: Sequence[ExecutionRecord], cap: int
) -> Iterator[tuple[list[str], list[Any]]]:
    """The keys and arguments of each ``create.lua`` call that stores ``records`` as stored.

    Args:
        keys: The deployment's key names.
        records: Plain new records, counted and masked as the store writes them.
        cap: The most events kept per execution.
    """
    indexes = [keys.index(name) for name in _INDEXES]
    for start in range(0, len(records), CREATES_PER_CALL):
        names = list(indexes)
        args: list[Any] = [cap]
        for r in records[start : start + CREATES_PER_CALL]:
            names += [keys.record(r.id), keys.events(r.id)]
            tail = f"{encode_route(r)}\n{encode_hot(r)}\n".encode() + encode_doc(r)
            args += [
                r.id,
                tail,
                encode_event(r.to_event(r.cache_status, actor=r.submitted_by or None)),
                ms_or_empty(r.created_at),
                ms_or_empty(r.not_before or r.updated_at),
                counter(r),
            ]
        yield names, args


def transition_call(
    keys: Keys, write: Write, job: str | None, cap: int, retention_s: int
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the ``transition.lua`` call that makes ``write``.

    Args:
        keys: The deployment's key names.
        write: The record as read, the new one as stored (counted, masked) and the extra
            events to log before its own (masked, naming their job).
        job: The Celery job whose result this is, named on the record's own event.
        cap: The most events kept per execution.
        retention_s: How long a finished record is kept (seconds).
    """
    current, new, extra_events = write
    logged = [encode_event(e) for e in extra_events]
    # A change of the cache status is an event too, and the event says what it became.
    cache_changed = new.cache_status != current.cache_status
    if current.event_key() != new.event_key() or cache_changed:
        cache = new.cache_status if cache_changed else None
        logged.append(encode_event(new.to_event(cache, job)))
    open_ = not new.finished
    waits = open_ and (new.waiting_namespace is not None or new.waiting_queue is not None)
    names = [
        keys.record(new.id),
        keys.events(new.id),
        keys.index("pending"),
        keys.index("due"),
        keys.index("timeouts"),
        keys.index("claims"),
        keys.index("finished"),
        waiting_index(keys, current),
        waiting_index(keys, new),
        keys.index(COUNTS),
    ]
    args: list[Any] = [
        new.id,
        new.version,
        encode_doc(new),
        _JSON.encode(logged),
        cap,
        ms_or_empty(new.not_before or new.updated_at) if open_ and new.pending else "",
        ms_or_empty(new.next_get_at) if open_ else "",
        ms_or_empty(new.deadline) if open_ else "",
        ms_or_empty(new.claimed_at) if open_ and new.claim else "",
        "" if open_ else ms_or_empty(new.updated_at),
        ms_or_empty(new.updated_at) if waits else "",
        retention_s,
        encode_route(new),
        encode_hot(new),
        # Only a counted record leaves its count; terminal counts are totals.
        counter(current) if current.counted and not current.finished else "",
        counter(new),
        keys.done(new.id),
    ]
    return names, args


def touch_call(
    keys: Keys, pairs: Sequence[tuple[ExecutionRecord, ExecutionRecord]]
) -> tuple[list[str], list[Any]]:
    """The keys and arguments of the ``touch.lua`` call that writes the hot fields of ``pairs``.

    Each pair is (the record as read, the new one), which differ in hot fields alone.
    """
    names = [keys.index("due"), keys.index("claims")]
    args: list[Any] = ["touch"]
    for current, new in pairs:
        names.append(keys.record(new.id))
        args += [
            new.id,
            current.version,
            encode_hot(new),
            ms_or_empty(new.next_get_at),
            ms_or_empty(new.claimed_at) if new.claim else "",
        ]
    return names, args
