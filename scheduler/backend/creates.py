"""The calls of ``lua/create.lua``: many new, plain records stored at once.

A plain submission (pending, in no other index) needs none of ``transition.lua``'s
checks, so :meth:`ExecutionStore.create_many <scheduler.backend.ExecutionStore.create_many>`
stores many with one script call each :data:`CREATES_PER_CALL`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from scheduler.backend.indexes import COUNTS, counter, ms_or_empty
from scheduler.backend.keys import Keys
from scheduler.backend.records import encode_doc, encode_event, encode_hot, encode_route
from scheduler.model import ExecutionRecord

__all__ = ["CREATES_PER_CALL", "create_calls", "plain"]

CREATES_PER_CALL = 100
"""Records per ``lua/create.lua`` call: Redis runs one script at a time, and a longer one
would hold up the scheduler's and workers' calls."""

_INDEXES = ("all", "pending", "due", "timeouts", "claims", "finished", COUNTS)
"""The indexes ``lua/create.lua`` takes, in its order."""


def plain(new: ExecutionRecord) -> bool:
    """Whether a new record is a plain submission: pending, in no other index (create.lua)."""
    return (
        new.pending
        and not new.finished
        and new.next_get_at is None
        and new.deadline is None
        and not new.claim
        and new.waiting_namespace is None
    )


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
                encode_event(r.to_event(r.cache_status)),
                ms_or_empty(r.created_at),
                ms_or_empty(r.not_before or r.updated_at),
                counter(r),
            ]
        yield names, args
