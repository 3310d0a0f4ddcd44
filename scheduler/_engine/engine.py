"""The scheduler: advances executions through their phases, one tick at a time.

Only the leader (a Redis lease) acts; a standby's tick just tries to take the
lease. Each tick is O(what is due):

1. renew live executions' quota tokens, release orphans, and reap expired ones;
   renew live owners' cache reservations and release finished owners' ones;
2. tear down attempts past their deadline (timeouts);
3. re-publish steps whose claim made no progress for a visibility timeout;
4. wake quota waiters when tokens were freed;
5. advance pending executions (:mod:`.launch`): look up the result cache, wait
   while the plugin's queue is full (:mod:`.backpressure`), allocate a token, then
   claim and publish the launch step; claim Delete for teardowns;
6. claim due Gets and publish them in batches per plugin and namespace (:mod:`.gets`);
7. drop long-finished executions from the listing indexes;
8. every few seconds, publish the task types it routes (connectors discovered over
   gRPC among them), so clients accept them.

Before it first tries to lead, it waits (boundedly) for plugins that discover their
task types at run time (``connector-service``), so the first launches route right.

Every change is a compare-and-set; a job is published only after its claim is
written (an outbox), so a lost message is found again by step 3.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from scheduler._backend import SERVED_LIFETIME, SERVED_PERIOD, LeaderLease
from scheduler._engine.backpressure import QueueDepth, QueueRoom
from scheduler._engine.cache_gate import CacheGate
from scheduler._engine.gets import dispatch_gets, next_gets
from scheduler._engine.launch import Launcher
from scheduler._engine.outbox import OUTAGE, UNAVAILABLE, Outbox, Publisher
from scheduler._engine.upkeep import Upkeep
from scheduler._runtime import Runtime
from scheduler.metrics import LEADER, TICK_DURATION

__all__ = ["Engine"]

log = logging.getLogger(__name__)

ROUTER_WARM_UP = timedelta(seconds=15)
"""The longest the scheduler waits, at start-up, for a router's first discovery."""


class Engine:
    """The scheduler's logic, driven by :meth:`tick`.

    Args:
        runtime: The process's runtime; its clock is the default time of a tick.
        publish: Publishes jobs.
        batch: The most executions handled per index per tick.
        depth: Counts the jobs waiting in a queue (the broker's count), so launches stop
            at ``FLYTE_CELERY_QUEUE_BACKLOG``; None launches without looking.
    """

    def __init__(
        self,
        runtime: Runtime,
        publish: Publisher,
        *,
        batch: int = 500,
        depth: QueueDepth | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.lease = LeaderLease(runtime.redis, runtime.keys.leader, settings.leader_lease)
        self.outbox = Outbox(runtime, publish, batch)
        self.cache_gate = CacheGate(runtime)
        self.upkeep = Upkeep(self.outbox)
        room = QueueRoom(settings.queue_backlog, depth, settings.create_batch_size)
        self.launcher = Launcher(self.outbox, self.cache_gate, room)
        self._quotas_registered = False
        self._warmed = False
        self._served_at: datetime | None = None
        self._work: list[tuple[str, Callable[[datetime], None]]] = [
            ("unsent", self.outbox.resend),
            ("tokens", self.upkeep.tokens),
            ("cache", self.cache_gate.heartbeat),
            ("timeouts", self.upkeep.timeouts),
            ("reconcile", self.upkeep.reconcile),
            ("waiters", self.upkeep.wake_waiters),
            ("pending", self.launcher.pending),
            ("gets", self._dispatch_gets),
            ("forget", self.upkeep.forget),
            ("served", self._publish_served),
        ]

    def tick(self, now: datetime | None = None) -> timedelta:
        """Do everything that is due at ``now`` (the runtime's clock by default).

        Returns:
            How long until the next tick is needed.
        """
        now = now or self.runtime.clock()
        settings = self.runtime.settings
        if not self._warmed:
            # Not leading yet, so waiting costs nothing: a standby leads meanwhile.
            self._warmed = True
            self.runtime.plugins.routers(ROUTER_WARM_UP)
        try:
            if not self.lease.acquire():
                LEADER.labels(self.runtime.shard).set(0)
                return min(timedelta(seconds=1), settings.leader_lease / 3)
            LEADER.labels(self.runtime.shard).set(1)
            started = time.perf_counter()
            try:
                return self._lead(now)
            finally:
                TICK_DURATION.observe(time.perf_counter() - started)
        except OUTAGE:
            self.upkeep.redis_failed()  # the workers' leases lapsed too: give them time
            raise

    def _lead(self, now: datetime) -> timedelta:
        """The leader's tick."""
        if not self._quotas_registered:
            self._register_quotas()
            self._quotas_registered = True
        else:
            # Redis may have come back empty (no persistence, a flush): quotas live only there.
            self._ensure_quotas()
        for index, (name, work) in enumerate(self._work):
            if index > 0 and not self.lease.keep():
                # A long tick outlived the lease and a standby leads now: stop acting.
                log.warning("lost the scheduler lease during a tick")
                return timedelta(0)
            try:
                work(now)
            except UNAVAILABLE:
                raise  # Redis is away: the caller waits for it (one log line, not one per step)
            except Exception:
                # One broken step must not stop the others or the scheduler.
                log.exception("scheduler step %s failed", name)
        return self._next_wait(now)

    def _register_quotas(self) -> None:
        """Write the quotas of every plugin that loads to Redis (as the scheduler starts).

        The newest deployment's configuration wins, so a changed quota takes effect. A
        plugin that fails to load is left out: it fails only its own executions.
        """
        for namespace, quota in self.runtime.plugins.quotas().items():
            self.runtime.quotas.set_resource_quota(namespace, quota)

    def _ensure_quotas(self) -> None:
        """Register the quotas again if Redis lost any; one read when nothing is missing."""
        expected = self.runtime.plugins.quotas()
        if expected and not set(expected) <= set(self.runtime.quotas.namespaces()):
            log.warning("quota namespaces missing from Redis; registering them again")
            self._register_quotas()

    def _dispatch_gets(self, now: datetime) -> None:
        dispatch_gets(self.outbox, now)

    def _publish_served(self, now: datetime) -> None:
        if self._served_at is not None and now - self._served_at < SERVED_PERIOD:
            return
        self._served_at = now
        self.runtime.plugins.publish_served(claims=True, ttl=SERVED_LIFETIME)

    def _next_wait(self, now: datetime) -> timedelta:
        settings = self.runtime.settings
        wait = settings.tick_interval
        gets = next_gets(self.runtime, now)
        if gets is not None:
            wait = min(wait, gets)
        return min(wait, settings.leader_lease / 3)

    @property
    def leads(self) -> bool:
        """Whether this engine led its shard at its last tick."""
        return self.lease.held

    def stop(self) -> None:
        """Give up leadership so a standby takes over at once."""
        LEADER.labels(self.runtime.shard).set(0)
        self.lease.release()
