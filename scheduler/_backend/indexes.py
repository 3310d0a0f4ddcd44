"""The execution store's indexes: what is due, pending, timed out or stale, O(what is due).

The store (:mod:`.store`) keeps each unfinished execution in the indexes its fields
call for; these queries read them, and :meth:`Indexes.claim_due` claims the due
Gets server-side, in one script call per batch, from the records' routes alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis

from plugins.core import Phase
from scheduler._backend.keys import Keys
from scheduler._backend.scripts import decode, load_script, to_ms, to_us
from scheduler._model import Claim, ExecutionRecord, Step

__all__ = [
    "COUNTS",
    "NAME_CLAIM",
    "DueClaim",
    "DueOutlook",
    "Indexes",
    "PhaseCount",
    "counter",
    "ms_or_empty",
]

COUNTS = "counts"
"""The index of executions by task type and phase (a hash; see ``lua/transition.lua``)."""


def _due_time(found: list[tuple[Any, float]]) -> datetime | None:
    return datetime.fromtimestamp(float(found[0][1]) / 1000, tz=UTC) if found else None


def counter(record: ExecutionRecord) -> str:
    """The field of ``record``'s task type and phase in the counts hash."""
    return f"{record.task_type}|{record.phase.name}"


@dataclass(frozen=True)
class PhaseCount:
    """How many executions of a task type are in a phase.

    Attributes:
        task_type: The task type.
        phase: The phase.
        count: For an open phase, the executions in it now; for a terminal one, every
            execution that ever finished in it (a total that only grows).
    """

    task_type: str
    phase: Phase
    count: int


NAME_CLAIM = timedelta(seconds=60)
"""How long a submission holds an execution name while it writes, if it never releases it
(it died, or a Redis outage cut it off)."""


def ms_or_empty(value: datetime | None) -> str:
    """A time as the scripts' index scores take it (ms), or ``''``: leave the index."""
    return "" if value is None else str(to_ms(value))


@dataclass(frozen=True)
class DueClaim:
    """A Get (or a core plugin's Handle) the scheduler claimed server-side.

    Attributes:
        id: The execution.
        claim: The step claimed, for its current attempt.
        plugin_id: Its plugin.
        namespace: The quota namespace its attempt holds a token of, if any.
    """

    id: str
    claim: Claim
    plugin_id: str
    namespace: str | None


@dataclass(frozen=True)
class DueOutlook:
    """What the due index holds at one instant.

    Attributes:
        due: How many Gets (and core rounds) are due now.
        first: When the earliest is due, if any.
        ranked: When the one after a given number of others is due, if there is one.
    """

    due: int
    first: datetime | None
    ranked: datetime | None


class Indexes:
    """The index queries of the execution store (its ``indexes`` member).

    The store writes every index in the same script as the record; these are the reads
    (and the claims of due Gets) of the scheduler, the console and the metrics.

    Args:
        redis_client: The deployment's Redis.
        keys: Its key names.
        retention_s: How long finished executions are listed (seconds).
        read: Reads records by id (the store's ``get_many``): a due record of an earlier
            release's layout is rewritten by reading it.
        keys_of: The key names of the shard that holds an execution (the names claimed
            by a submission are each under its own shard's tag); ``keys``' by default.
    """

    def __init__(
        self,
        redis_client: Redis,
        keys: Keys,
        retention_s: int,
        read: Callable[[list[str]], list[ExecutionRecord]],
        keys_of: Callable[[str], Keys] | None = None,
    ) -> None:
        self._redis = redis_client
        self._keys = keys
        self._keys_of = keys_of or (lambda _: keys)
        self._retention_s = retention_s
        self._read = read
        self._forget = load_script(redis_client, "forget")
        self._touch = load_script(redis_client, "touch")

    def _range(self, name: str, upto: str, limit: int) -> list[str]:
        ids = self._redis.zrangebyscore(self._keys.index(name), "-inf", upto, start=0, num=limit)
        return [decode(i) for i in ids]

    def pending(self, now: datetime | None = None, limit: int = 100) -> list[str]:
        """Executions with work to do at ``now`` (any time if ``None``), longest pending first."""
        return self._range("pending", "+inf" if now is None else ms_or_empty(now), limit)

    def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Executions whose next Get is due at ``now``, most overdue first."""
        return self._range("due", ms_or_empty(now), limit)

    def timed_out(self, now: datetime, limit: int = 100) -> list[str]:
        """Executions whose attempt deadline passed at ``now``."""
        return self._range("timeouts", ms_or_empty(now), limit)

    def stale_claims(self, older_than: datetime, limit: int = 100) -> list[str]:
        """Executions whose claimed step has made no progress since ``older_than``."""
        return self._range("claims", ms_or_empty(older_than), limit)

    def waiting(self, namespace: str, limit: int = 100) -> list[str]:
        """Executions waiting for a token of ``namespace``, longest waiting first."""
        return self._line(self._keys.waiting(namespace), limit)

    def waiting_for_room(self, queue: str, limit: int = 100) -> list[str]:
        """Executions waiting for room in Celery queue ``queue``, longest waiting first."""
        return self._line(self._keys.backlog(queue), limit)

    def _line(self, key: str, limit: int) -> list[str]:
        """The first ``limit`` of a line (a sorted set by arrival), longest waiting first."""
        return [decode(i) for i in self._redis.zrange(key, 0, limit - 1)]

    def queues_waited_for(self) -> set[str]:
        """The queues some execution was put in line for (and still may wait for)."""
        return {decode(q) for q in self._redis.smembers(self._keys.index("backlogged"))}

    def note_queues_waited_for(self, queues: Iterable[str], *, add: bool = True) -> None:
        """Note (or, with ``add`` False, forget) queues executions wait for room in."""
        names = list(queues)
        if names and add:
            self._redis.sadd(self._keys.index("backlogged"), *names)
        elif names:
            self._redis.srem(self._keys.index("backlogged"), *names)

    def waiting_for_room_counts(self, queues: Iterable[str]) -> dict[str, int]:
        """How many executions wait for room in each of ``queues`` (one round trip)."""
        names = list(queues)
        pipe = self._redis.pipeline(transaction=False)
        for queue in names:
            pipe.zcard(self._keys.backlog(queue))
        return {q: int(n) for q, n in zip(names, pipe.execute(), strict=True)}

    def next_due_at(self) -> datetime | None:
        """When the earliest Get is due, so a loop can sleep until then."""
        return self.due_outlook(None, 0).first

    def due_outlook(self, now: datetime | None, rank: int) -> DueOutlook:
        """How many Gets are due at ``now``, when the first is, and the one of ``rank``.

        One round trip; the scheduler sizes its claims and its sleep on it.
        """
        key = self._keys.index("due")
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcount(key, "-inf", "(-inf" if now is None else ms_or_empty(now))
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.zrange(key, rank, rank, withscores=True)
        due, first, ranked = pipe.execute()
        return DueOutlook(int(due), _due_time(first), _due_time(ranked))

    def claim_due(self, now: datetime, limit: int, core_plugins: Sequence[str]) -> list[DueClaim]:
        """Claim the Gets due at ``now`` (up to ``limit``) in one script call, server-side.

        The script reads only each record's route and hot fields: a record waiting for a
        Get is claimed for one (for a Handle if its plugin is in ``core_plugins``); any
        other due record just leaves the index. Nothing is decoded here.

        Returns:
            What was claimed, most overdue first.
        """
        prefix = self._keys.record("")
        reply = self._touch(
            keys=[self._keys.index("due"), self._keys.index("claims")],
            args=["claim", to_ms(now), to_us(now), limit, prefix, *core_plugins],
        )
        claimed, older = [], []
        for start in range(0, len(reply), 5):
            execution_id, attempt, plugin_id, namespace, step = (
                decode(v) for v in reply[start : start + 5]
            )
            if step == "read":
                older.append(execution_id)
                continue
            claimed.append(
                DueClaim(
                    execution_id, Claim(Step(step), int(attempt)), plugin_id, namespace or None
                )
            )
        if older:
            # Rewritten now, claimed at the next tick; one that cannot be read leaves the
            # index, so it cannot hold the head of the due index forever.
            readable = {r.id for r in self._read(older)}
            unreadable = [i for i in older if i not in readable]
            if unreadable:
                self._redis.zrem(self._keys.index("due"), *unreadable)
        return claimed

    def forget(self, now: datetime, limit: int = 1000) -> int:
        """Drop executions finished more than the retention ago from the listing indexes.

        Their records and event logs expire by themselves; this bounds the indexes.

        Returns:
            How many were dropped.
        """
        cutoff = now - timedelta(seconds=self._retention_s)
        return int(
            self._forget(
                keys=[self._keys.index("all"), self._keys.index("finished")],
                args=[ms_or_empty(cutoff), limit],
            )
        )

    def claim_names(self, execution_ids: Sequence[str], owner: str) -> set[str]:
        """Claim ids for a submission about to write their files; returns those not free.

        An id is not free when its record exists or another submission claimed it (its
        claim lasts a minute at most): then nothing of it may be written. One round trip.
        """
        pipe = self._redis.pipeline(transaction=False)
        for execution_id in execution_ids:
            keys = self._keys_of(execution_id)
            pipe.set(
                keys.name_claim(execution_id),
                owner,
                nx=True,
                px=int(NAME_CLAIM.total_seconds() * 1000),
            )
            pipe.exists(keys.record(execution_id))
        replies = pipe.execute()
        taken = set()
        for index, execution_id in enumerate(execution_ids):
            claimed, exists = replies[2 * index], replies[2 * index + 1]
            if exists or not claimed:
                taken.add(execution_id)
        return taken

    def release_names(self, execution_ids: Sequence[str]) -> None:
        """Drop the name claims of a submission that is done (stored, or given up)."""
        by_tag: dict[str, list[str]] = {}
        for execution_id in execution_ids:
            keys = self._keys_of(execution_id)
            by_tag.setdefault(keys.tag, []).append(keys.name_claim(execution_id))
        for names in by_tag.values():  # one DEL per shard: one Redis Cluster slot each
            self._redis.delete(*names)

    def phase_counts(self) -> list[PhaseCount]:
        """Executions by task type and phase, from counts kept by every write."""
        found = []
        for field, value in self._redis.hgetall(self._keys.index(COUNTS)).items():
            task_type, _, phase = decode(field).rpartition("|")
            found.append(PhaseCount(task_type, Phase[phase], int(value)))
        return sorted(found, key=lambda c: (c.task_type, c.phase.value))

    def backlog(self, now: datetime) -> tuple[int, int, int]:
        """Work waiting at ``now``: (Gets overdue, executions pending, steps claimed)."""
        upto = ms_or_empty(now)
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcount(self._keys.index("due"), "-inf", upto)
        pipe.zcount(self._keys.index("pending"), "-inf", upto)
        pipe.zcard(self._keys.index("claims"))
        due, pending, claims = pipe.execute()
        return int(due), int(pending), int(claims)

    def count(self) -> int:
        """How many executions are listed (finished ones until forgotten)."""
        return int(self._redis.zcard(self._keys.index("all")))
