"""The scheduler inside ``celery -A worker beat``: a custom beat scheduler class.

Celery beat calls :meth:`EngineScheduler.tick` in a loop. Each tick runs beat's
own periodic entries (if the app has any), then the tick of the engine of each shard
this process leads (the live beat processes split the shards between them), and then
blocks on the shards' Redis lists until a worker or client pushes a wake-up or the next
piece of work is due. So results are acted on at once, without polling delay,
and an idle scheduler costs one blocked Redis call per tick interval.

When Redis goes away (a restart, a failover, a network blip) the scheduler logs
one line, retries with a backoff capped at two seconds, and logs one more line
when Redis answers again: it resumes within a few seconds, and never exits.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import redis
from celery import beat

from scheduler._backend import Beats, node_of_a_cluster
from scheduler._engine.backpressure import BrokerDepth
from scheduler._engine.engine import Engine
from scheduler._engine.outbox import OUTAGE
from scheduler._engine.tickstats import TickStats
from scheduler._runtime import Runtime, process_runtime
from scheduler.metrics import process_ended
from scheduler.settings import Settings, masked_url

__all__ = ["EngineScheduler"]

log = logging.getLogger(__name__)

_HARD_LIMIT_GRACE = timedelta(seconds=30)
_FIRST_RETRY = timedelta(seconds=0.25)
_LAST_RETRY = timedelta(seconds=2)


def _where(redis_failed: bool) -> str:
    """Redis or the broker, and its URL (password masked), for the outage line."""
    try:
        settings = Settings.load()
    except Exception:  # the line must come out anyway
        return "Redis" if redis_failed else "the broker"
    url = settings.redis_url if redis_failed else settings.broker
    return f"{'Redis' if redis_failed else 'the broker'} at {masked_url(url)}"


class _Outage:
    """Tracks a Redis outage: one line when it starts, one when it ends, backoff between."""

    def __init__(self) -> None:
        self.failures = 0
        self.since = 0.0
        self.what = "Redis"

    def failed(self, exc: Exception) -> timedelta:
        if self.failures == 0:
            self.since = time.monotonic()
            self.what = _where(isinstance(exc, redis.RedisError))
            if misnamed := node_of_a_cluster(exc):
                log.error("flyte-celery scheduler: %s; retrying", misnamed)
            else:
                log.warning("flyte-celery scheduler: %s unavailable (%s); retrying", self.what, exc)
        self.failures += 1
        return min(_FIRST_RETRY * (1 << min(self.failures - 1, 8)), _LAST_RETRY)

    def recovered(self) -> None:
        if self.failures:
            took = time.monotonic() - self.since
            log.warning(
                "flyte-celery scheduler: %s answers again after %.1fs; resuming", self.what, took
            )
        self.failures = 0


class EngineScheduler(beat.Scheduler):  # type: ignore[misc]
    """Runs flyte-celery's engine as celery beat's scheduler: one engine per shard it leads.

    Every beat process of a deployment stands by for every shard; they split the shards
    between them (:class:`~scheduler._backend.Beats`), and each leads its share with one
    engine per shard, each holding that shard's lease.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._engines: dict[int, Engine] = {}
        self._stats: dict[int, TickStats] = {}
        self._beats: Beats | None = None
        self._outage = _Outage()
        self._outage_at: float | None = None  # monotonic time of the last tick Redis failed
        super().__init__(*args, **kwargs)
        self._depth = BrokerDepth(self.app.connection_for_read)

    def _share(self, runtime: Runtime) -> list[int]:
        """The shards this process leads now; it gives up the others it led."""
        if self._beats is None:
            self._beats = Beats(runtime.redis, runtime.keys, runtime.settings.leader_lease)
            try:
                runtime.plugins.zero_metrics()
            except Exception as exc:
                # The scheduler still runs; the series appear as they are first recorded.
                log.warning("could not make the scheduler's metric series: %s", exc)
            log.info("flyte-celery scheduler %s ready", self._beats.owner)
        shards = self._beats.share(runtime.shards.count)
        for shard, engine in self._engines.items():
            if shard not in shards and engine.leads:
                log.info("flyte-celery scheduler: handing shard %d over", shard)
                engine.stop()
        return shards

    def engine(self, shard: int = 0) -> Engine:
        """The engine of ``shard``, built on first use from ``FLYTE_CELERY_*`` settings."""
        if shard not in self._engines:
            runtime = process_runtime().for_shard(shard)
            engine = self._engines[shard] = Engine(runtime, self._publish, depth=self._depth)
            since = self._outage_at
            if (
                since is not None
                and time.monotonic() - since
                < (runtime.settings.run_lease + runtime.settings.leader_lease).total_seconds()
            ):
                # A shard taken over just after an outage: its workers' leases lapsed
                # in it too, and they get a lease's time to renew or write back.
                engine.upkeep.redis_failed()
            label = "" if runtime.shards.count == 1 else f" shard {shard}"
            self._stats[shard] = TickStats(
                runtime.clock, runtime.settings.tick_stats_period, label=label
            )
        return self._engines[shard]

    def _publish(
        self, job: str, args: list[Any], queue: str, *, time_limit: timedelta | None = None
    ) -> None:
        limits: dict[str, float] = {}
        if time_limit is not None:
            # The soft limit raises in the call, which then fails like any plugin error;
            # the hard limit kills a call that ignores it, and its run lease lapses.
            limits["soft_time_limit"] = time_limit.total_seconds()
            limits["time_limit"] = (time_limit + _HARD_LIMIT_GRACE).total_seconds()
        self.app.send_task(job, args=args, queue=queue, **limits)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One scheduler round; blocks until woken or until work is due."""
        beat_wait = super().tick(*args, **kwargs)
        try:
            runtime = process_runtime()
            shards = self._share(runtime)
            waits, failed = [], None
            for shard in shards:
                try:
                    waits.append(self._tick(shard))
                except OUTAGE as exc:
                    # One shard's Redis node is away (a cluster failover): the others go on.
                    failed = exc
                if self._beats is not None:
                    self._beats.keep()  # a long round must not let this process lapse
            if failed is not None and not waits:
                raise failed
            wait = min(waits, default=runtime.settings.tick_interval)
            if beat_wait:
                wait = min(wait, timedelta(seconds=beat_wait))
            if failed is not None:
                wait = min(wait, self._outage.failed(failed))
            if wait > timedelta(0) and shards:
                runtime.wake.wait(wait, shards)
            elif wait > timedelta(0):
                # Leading no shard: a blocked pop would take the leaders' wake-ups.
                time.sleep(wait.total_seconds())
            if failed is None:
                self._outage.recovered()
        except OUTAGE as exc:
            # Redis (or the broker) is away: keep beat alive, and try again after a short,
            # growing pause. Every engine learns of it (the workers' leases lapsed too).
            self._outage_at = time.monotonic()
            for engine in self._engines.values():
                engine.upkeep.redis_failed()
            time.sleep(self._outage.failed(exc).total_seconds())
        except Exception:
            # Anything else is a bug to see in the log; beat must still go on.
            log.exception("flyte-celery scheduler tick failed")
            time.sleep(1.0)
        return 0.0

    def _tick(self, shard: int) -> timedelta:
        """One tick of a shard's engine, timed."""
        engine = self.engine(shard)
        started = time.perf_counter()
        wait = engine.tick()
        if engine.leads:
            self._stats[shard].record(timedelta(seconds=time.perf_counter() - started))
        return wait

    def close(self) -> None:
        """Give up leadership, so a standby takes over at once."""
        for engine in self._engines.values():
            try:
                engine.stop()
            except OUTAGE as exc:
                # Redis is away: the lease lapses by itself and a standby takes over then.
                log.warning("could not release the scheduler lease: %s", exc)
            except Exception:
                log.exception("could not release the scheduler lease")
        if self._beats is not None:
            try:
                self._beats.leave()
            except Exception as exc:  # its entry lapses by itself
                log.warning("could not leave the schedulers' list: %s", exc)
        self._depth.close()
        process_ended()
        super().close()
