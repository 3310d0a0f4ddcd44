"""The Prometheus endpoint: the deployment's state from Redis, and every process's counters.

One scrape reads, from Redis, what is true of the whole deployment, so it is counted
once however many schedulers and workers run:

- executions by task type and phase (open phases: in it now; terminal: ever finished);
- per quota namespace: the quota, tokens held, grants, denials, releases and reaps
  (Flyte's ``allocation_grant_success`` / ``allocation_grant_failed`` /
  ``resource_release_success``);
- the backlog: Gets overdue, executions pending, steps claimed, executions waiting for
  room in each queue; whether a scheduler holds the lease; whether Redis answered.

And, with ``PROMETHEUS_MULTIPROC_DIR`` set, the values every process on this host wrote
there (:mod:`scheduler.metrics`: plugin calls, limiter waits, ticks, cache lookups).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from scheduler._runtime import Runtime
from scheduler.metrics import processes_registry

__all__ = ["DeploymentCollector", "metrics_registry", "serve_metrics"]

log = logging.getLogger(__name__)


class DeploymentCollector(Collector):
    """Reads the deployment's state from Redis at each scrape.

    Args:
        runtime: A runtime of the deployment (its Redis, keys and settings).
        clock: What "now" is, for the backlog (the runtime's clock by default).
    """

    def __init__(self, runtime: Runtime, clock: Callable[[], datetime] | None = None) -> None:
        self.runtime = runtime
        self.clock = clock or runtime.clock

    def collect(self) -> Iterator[Metric]:
        """The metrics of one scrape; ``flyte_celery_redis_up`` 0 alone if Redis is away."""
        up = GaugeMetricFamily("flyte_celery_redis_up", "1 if Redis answered this scrape")
        try:
            found = list(self._read())
        except redis.RedisError as exc:
            log.warning("metrics: cannot read Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found

    def _read(self) -> Iterator[Metric]:
        store, quotas = self.runtime.store, self.runtime.quotas
        open_ = GaugeMetricFamily(
            "flyte_celery_executions",
            "Executions in an open phase now",
            labels=["task_type", "phase"],
        )
        done = CounterMetricFamily(
            "flyte_celery_executions_finished",
            "Executions that finished in a terminal phase",
            labels=["task_type", "phase"],
        )
        for count in store.totals.phase_counts():
            family = done if count.phase.is_terminal() else open_
            family.add_metric([count.task_type, count.phase.name], count.count)
        yield open_
        yield done
        yield from self._quotas(quotas.namespaces())
        due, pending, claims = store.totals.backlog(self.clock())
        for name, help_text, value in (
            ("flyte_celery_due_backlog", "Gets due and not yet claimed", due),
            ("flyte_celery_pending_executions", "Executions with scheduler work due", pending),
            ("flyte_celery_steps_in_flight", "Plugin calls claimed and not yet done", claims),
        ):
            yield GaugeMetricFamily(name, help_text, value=value)
        waiting = GaugeMetricFamily(
            "flyte_celery_waiting_for_room",
            "Executions not launched while their queue holds FLYTE_CELERY_QUEUE_BACKLOG jobs",
            labels=["queue"],
        )
        in_line = store.totals.waiting_for_room(self.runtime.queues.all())
        for queue, executions in in_line.items():
            waiting.add_metric([queue], executions)
        yield waiting
        held = GaugeMetricFamily(
            "flyte_celery_scheduler_lease_held",
            "1 if a scheduler holds the shard's lease",
            labels=["shard"],
        )
        pipe = self.runtime.redis.pipeline(transaction=False)
        for keys in self.runtime.shards.keys:
            pipe.exists(keys.leader)
        for keys, exists in zip(self.runtime.shards.keys, pipe.execute(), strict=True):
            held.add_metric([str(keys.shard)], int(exists))
        yield held

    def _quotas(self, namespaces: list[str]) -> Iterator[Metric]:
        labels = ["namespace"]
        gauges: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "quota": GaugeMetricFamily(
                "flyte_celery_resource_quota", "Tokens a quota namespace allows", labels=labels
            ),
            "held": GaugeMetricFamily(
                "flyte_celery_resource_tokens_held", "Tokens held now", labels=labels
            ),
        }
        counters: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            "grants": CounterMetricFamily(
                "flyte_celery_allocation_grant_success", "Tokens granted", labels=labels
            ),
            "denials": CounterMetricFamily(
                "flyte_celery_allocation_grant_failed", "Allocations refused", labels=labels
            ),
            "releases": CounterMetricFamily(
                "flyte_celery_resource_release_success", "Tokens given back", labels=labels
            ),
            "reaps": CounterMetricFamily(
                "flyte_celery_resource_reaped",
                "Tokens dropped as their lease ran out",
                labels=labels,
            ),
        }
        for namespace in namespaces:
            metrics = self.runtime.quotas.metrics(namespace)
            for attribute, family in (*gauges.items(), *counters.items()):
                family.add_metric([namespace], getattr(metrics, attribute))
        yield from gauges.values()
        yield from counters.values()


def metrics_registry(runtime: Runtime) -> CollectorRegistry:
    """What the endpoint serves: the deployment's state, and the processes' counters.

    With ``PROMETHEUS_MULTIPROC_DIR`` set, the counters are those of every process that
    writes there; without it, this process's own.
    """
    registry = CollectorRegistry()
    registry.register(_Forward(processes_registry()))
    registry.register(DeploymentCollector(runtime))
    return registry


class _Forward(Collector):
    """Another registry's metrics, inside this one."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def serve_metrics(
    runtime: Runtime, port: int, host: str = "127.0.0.1"
) -> tuple[WSGIServer, Thread]:
    """Serve ``/metrics`` on ``host:port`` in a thread; returns the server and its thread.

    Raises:
        OSError: The port cannot be bound.
    """
    server: Any
    server, thread = start_http_server(port, addr=host, registry=metrics_registry(runtime))
    return server, thread
