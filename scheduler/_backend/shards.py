"""Shards: which shard holds an execution, and the reads that span every shard.

An execution belongs to shard :func:`~scheduler._backend.keys.shard_of` its id, fixed for a
deployment's life (``FLYTE_CELERY_SHARDS``). Each shard's keys share one hash tag, so every
script touches one Redis Cluster slot; a write or read of several executions goes to each
shard in turn. The listing and the counts span the shards: :func:`merge_pages` merges the
shards' pages into the one order of a single shard (newest first, then by id), and
:class:`Totals` sums the shards' counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from scheduler._backend.indexes import Indexes, PhaseCount, ms_or_empty
from scheduler._backend.keys import Keys, shard_of
from scheduler._model import Cursor, ExecutionRecord

__all__ = ["ShardMap", "Totals", "cursor_of", "merge_pages"]

T = TypeVar("T")

MAX_SHARDS = 1024
"""The most shards a deployment may have (each is a leader lease and a set of indexes)."""


class ShardMap:
    """The key names of every shard of a deployment, and the shard of each execution.

    Args:
        prefix: The deployment's key prefix.
        shards: How many shards it has (``FLYTE_CELERY_SHARDS``).

    Raises:
        ValueError: ``shards`` is not between 1 and :data:`MAX_SHARDS`.
    """

    def __init__(self, prefix: str, shards: int = 1) -> None:
        if not 1 <= shards <= MAX_SHARDS:
            raise ValueError(f"shards must be between 1 and {MAX_SHARDS}, got {shards}")
        self.count = shards
        self.keys = [Keys(prefix, n) for n in range(shards)]

    def shard(self, execution_id: str) -> int:
        """The shard that holds ``execution_id``."""
        return 0 if self.count == 1 else shard_of(execution_id, self.count)

    def of(self, execution_id: str) -> Keys:
        """The key names of the shard that holds ``execution_id``."""
        return self.keys[self.shard(execution_id)]

    def group(self, items: Iterable[T], execution_id: Callable[[T], str]) -> dict[int, list[T]]:
        """``items`` by the shard of each one's execution, in their order within a shard."""
        groups: dict[int, list[T]] = {}
        for item in items:
            groups.setdefault(self.shard(execution_id(item)), []).append(item)
        return groups


def cursor_of(record: ExecutionRecord) -> Cursor:
    """Where ``record`` sits in the listing: its submission score and its id."""
    return Cursor(int(ms_or_empty(record.created_at)), record.id)


def _position(cursor: Cursor) -> tuple[int, str]:
    return cursor.score, cursor.id


def merge_pages(
    pages: Sequence[tuple[list[ExecutionRecord], Cursor | None]], limit: int
) -> tuple[list[ExecutionRecord], Cursor | None]:
    """One page of the listing from each shard's page after the same cursor.

    A shard whose page has a cursor may hold more entries, all below that cursor; so the
    merged page keeps only what lies at or above the highest such cursor (the frontier),
    newest first, and goes on from there: nothing is skipped or shown twice.
    """
    frontier = max((_position(c) for _, c in pages if c is not None), default=None)
    merged = sorted(
        (r for records, _ in pages for r in records),
        key=lambda r: _position(cursor_of(r)),
        reverse=True,
    )
    if frontier is not None:
        merged = [r for r in merged if _position(cursor_of(r)) >= frontier]
    if len(merged) >= limit:
        page = merged[:limit]
        return page, cursor_of(page[-1])
    return merged, None if frontier is None else Cursor(*frontier)


class Totals:
    """The counts of every shard's indexes, summed.

    Args:
        indexes: Each shard's index queries.
    """

    def __init__(self, indexes: Sequence[Indexes]) -> None:
        self._indexes = list(indexes)

    def phase_counts(self) -> list[PhaseCount]:
        """Executions by task type and phase, over every shard."""
        if len(self._indexes) == 1:
            return self._indexes[0].phase_counts()
        summed: dict[tuple[str, object], PhaseCount] = {}
        for shard in self._indexes:
            for found in shard.phase_counts():
                key = (found.task_type, found.phase)
                before = summed.get(key)
                count = found.count + (before.count if before else 0)
                summed[key] = PhaseCount(found.task_type, found.phase, count)
        return sorted(summed.values(), key=lambda c: (c.task_type, c.phase.value))

    def count(self) -> int:
        """How many executions are listed, over every shard."""
        return sum(shard.count() for shard in self._indexes)

    def backlog(self, now: datetime) -> tuple[int, int, int]:
        """Work waiting at ``now`` over every shard: (Gets overdue, pending, claimed)."""
        due = pending = claims = 0
        for shard in self._indexes:
            d, p, c = shard.backlog(now)
            due, pending, claims = due + d, pending + p, claims + c
        return due, pending, claims

    def waiting_for_room(self, queues: Sequence[str]) -> dict[str, int]:
        """Executions waiting for room in each queue, over every shard.

        The queues are ``queues`` and any other a shard noted a line in (one of a plugin
        since removed, say).
        """
        noted = set().union(*(shard.queues_waited_for() for shard in self._indexes))
        names = [*queues, *sorted(noted.difference(queues))]
        summed = dict.fromkeys(names, 0)
        for shard in self._indexes:
            for queue, waiting in shard.waiting_for_room_counts(names).items():
                summed[queue] += waiting
        return summed
