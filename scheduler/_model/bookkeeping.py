"""The scheduler's own changes of a record, beside the phase machine: pending, claims, cache.

:mod:`.machine` moves an execution through Flyte's phases. The scheduler also keeps its
bookkeeping on the record: whether a tick must look at it (``pending``), when a claim was
last published (``claimed_at``), which plugin runs it, whether it waits for a quota token
or a cached result. Each such change is a named function here, so that every change of a
record's scheduling fields is one of :mod:`scheduler._model`'s (a test keeps it so).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from plugins.core import Phase, PhaseInfo
from scheduler._model.cache_key import CacheStatus
from scheduler._model.evolve import evolve
from scheduler._model.machine import finish_attempt
from scheduler._model.record import ExecutionRecord
from scheduler.settings import RetryPolicy

__all__ = [
    "cache_checked",
    "cache_hit",
    "cached",
    "republished",
    "routed",
    "settled",
    "unclaimed",
    "waiting_for_cache",
    "watched",
    "woken",
]


def settled(record: ExecutionRecord) -> ExecutionRecord:
    """Nothing for a tick to do until a step's answer or a timer makes it pending again."""
    return evolve(record, pending=False)


def watched(record: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Settled, with a Get due (now, if none was planned): a launched record lost its poll."""
    return evolve(record, pending=False, next_get_at=record.next_get_at or now)


def routed(record: ExecutionRecord, plugin_id: str) -> ExecutionRecord:
    """The plugin that runs the execution, chosen when it launches."""
    return evolve(record, plugin_id=plugin_id)


def republished(record: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Its claim published again (or looked at again) ``now``."""
    return evolve(record, claimed_at=now)


def unclaimed(record: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """A claim of an attempt that is over dropped; the tick looks again."""
    return evolve(record, claim=None, claimed_at=None, pending=True, updated_at=now)


def woken(record: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """A quota waiter made pending again: a token was freed in its namespace."""
    return evolve(record, waiting_namespace=None, pending=True, updated_at=now)


def waiting_for_cache(
    record: ExecutionRecord, owner: str, now: datetime, look_again: timedelta
) -> ExecutionRecord:
    """WAITING_FOR_CACHE: ``owner`` computes the cached result; look again after a while."""
    return evolve(
        record,
        phase=Phase.WAITING_FOR_CACHE,
        reason=f"waiting for {owner} to compute the cached result",
        pending=True,
        not_before=now + look_again,
        updated_at=now,
    )


def cache_checked(
    record: ExecutionRecord, status: CacheStatus, reason: str, now: datetime
) -> ExecutionRecord:
    """The cache was asked (a miss, a failed lookup, an overwrite): the task runs."""
    return evolve(record, cache_status=status, reason=reason, updated_at=now)


def cache_hit(
    record: ExecutionRecord, now: datetime, source: str, policy: RetryPolicy
) -> ExecutionRecord:
    """SUCCESS from the cache: the outputs of ``source`` were copied as this execution's."""
    hit = evolve(record, cache_status=CacheStatus.HIT)
    # A success starts no next attempt, so finish_attempt has no other events to log.
    final, _ = finish_attempt(hit, now, PhaseInfo.success(), policy)
    return evolve(final, reason=f"cache hit: reused the outputs of {source}")


def cached(record: ExecutionRecord, status: CacheStatus | None) -> ExecutionRecord:
    """A successful record with what the cache did with its outputs (``POPULATED``...)."""
    if status is None or record.phase is not Phase.SUCCESS:
        return record
    return evolve(record, cache_status=status)
