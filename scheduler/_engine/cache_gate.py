"""The scheduler's part of the result cache: the gate before a launch, and the heartbeat.

Before an execution's first launch the scheduler looks its key up (Flyte's
catalog check in the node executor). A hit copies the cached outputs into the
attempt's output prefix and ends the execution SUCCESS without calling the
plugin. With ``cache_serialize`` a miss must also take the key's reservation;
without it, the execution waits in WAITING_FOR_CACHE and checks again every tick.
Each tick the scheduler renews the reservations of live owners and releases
those of finished ones. (The worker's part, populating the entry, is
:mod:`scheduler._steps.populate`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flyteidl.core import literals_pb2

from plugins.core import Phase
from plugins.io import OUTPUTS_SUFFIX, join_reference
from scheduler._model import CacheStatus, ExecutionRecord, bookkeeping
from scheduler._runtime import Runtime
from scheduler.metrics import CACHE_HITS, CACHE_MISSES

__all__ = ["CacheGate"]

log = logging.getLogger(__name__)

Write = Callable[[ExecutionRecord, ExecutionRecord], "ExecutionRecord | None"]


class CacheGate:
    """The cache lookup before a launch, and the reservations' heartbeat.

    Args:
        runtime: The process's runtime.
    """

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def gate(self, record: ExecutionRecord, now: datetime, write: Write) -> ExecutionRecord | None:
        """Decide, before the first launch, whether the execution runs.

        Returns:
            The (re-written) record to launch, or ``None`` when the cache handled it:
            a hit finished it, it waits for another execution's result, or the
            write lost a race (the next tick decides again).
        """
        cacheable = record.cache_key is not None and (
            record.cache_status is None or record.phase is Phase.WAITING_FOR_CACHE
        )
        if not cacheable or record.cache_key is None:
            return record
        key = record.cache_key
        cache = self.runtime.cache
        status = CacheStatus.MISS
        reason = "cache miss: running the task"
        if record.cache_overwrite:
            reason = "overwrite_cache: running the task to replace the cache entry"
        else:
            try:
                outputs = cache.lookup(key)
            except Exception as exc:
                log.warning("%s: cache lookup failed: %s", record.id, exc)
                outputs, status = None, CacheStatus.LOOKUP_FAILURE
                reason = f"cache lookup failed ({exc}); running the task"
            if outputs is not None:
                CACHE_HITS.labels(record.task_type).inc()
                self._hit(record, key, outputs, now, write)
                return None
            CACHE_MISSES.labels(record.task_type).inc()
        if record.cache_serialize:
            owner = cache.reserve(key, record.id, now)
            if owner != record.id:
                look_again = self.runtime.settings.tick_interval
                write(record, bookkeeping.waiting_for_cache(record, owner, now, look_again))
                return None
        return write(record, bookkeeping.cache_checked(record, status, reason, now))

    def _hit(
        self,
        record: ExecutionRecord,
        key: str,
        outputs: literals_pb2.LiteralMap,
        now: datetime,
        write: Write,
    ) -> None:
        target = join_reference(self.runtime.contexts.output_prefix(record), OUTPUTS_SUFFIX)
        self.runtime.data_store.write_protobuf(target, outputs)
        entry = self.runtime.cache.entry(key) or {}
        source = entry.get("execution", "an earlier execution")
        write(record, bookkeeping.cache_hit(record, now, source, self.runtime.policy))

    def heartbeat(self, now: datetime) -> None:
        """Renew live owners' reservations; release finished owners'.

        An owner that is gone (expired from the store) is left alone: its
        reservation expires after three heartbeats and a waiter takes it over.
        """
        cache = self.runtime.cache
        reservations = cache.reservations()
        if not reservations:
            return
        owners = {r.owner for r in reservations.values()}
        records = {r.id: r for r in self.runtime.store.get_many(sorted(owners))}
        shards, shard = self.runtime.shards, self.runtime.shard
        for key, reservation in reservations.items():
            owner = records.get(reservation.owner)
            if owner is None:
                continue
            if owner.finished or owner.cache_key != key:
                # Only the owner's own shard releases: another shard's scheduler may have
                # just reserved for it, and not yet written the key on its record.
                if shards.shard(reservation.owner) == shard:
                    cache.release(key, reservation.owner)
            elif reservation.expires_at - now < cache.expiry - cache.heartbeat:
                # Any shard renews a live owner's: one whose shard has no leader for a
                # while keeps it, and no waiter of another shard takes it meanwhile.
                cache.renew(key, reservation.owner, now)
