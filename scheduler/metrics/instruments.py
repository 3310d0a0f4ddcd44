"""The Prometheus instruments of the scheduler and worker processes (``prometheus_client``).

What each process measures in itself lives here: plugin calls, rate-limiter waits, the
tick, leadership, cache lookups, quota waits. What is true of the whole deployment
(executions by phase, tokens held, backlog) is read from Redis at scrape time by the
exporter (:mod:`scheduler.console.exporter`), so it is counted once however many
processes run.

Celery's prefork children are separate processes: with ``PROMETHEUS_MULTIPROC_DIR`` set
(before this module is imported, as ``./flyte-celery standalone`` does)
every process writes its values there and the exporter adds them up. Without it the
values stay in the process (tests, embedded use).

Names follow Flyte's where Flyte has one (the connector's ``requests_success``,
``requests_failure``, ``request_latency``; the web-API plugin machinery's
``resource_wait_time``), under the ``flyte_celery_`` prefix, and Prometheus conventions
otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.multiprocess import mark_process_dead

# The package (scheduler.metrics) exports these; this module has no __all__ of its own.

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Every process writes its values there from its first one: a directory that does
    # not exist yet (a fresh container's, a new folder) is made, not a crash.
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

PLUGIN_REQUESTS_SUCCESS = Counter(
    "flyte_celery_plugin_requests_success",
    "Plugin calls that returned (Flyte connector: requests_success)",
    ["plugin", "operation"],
)
PLUGIN_REQUESTS_FAILURE = Counter(
    "flyte_celery_plugin_requests_failure",
    "Plugin calls that raised, by error code (Flyte connector: requests_failure)",
    ["plugin", "operation", "error_code"],
)
PLUGIN_LATENCY = Histogram(
    "flyte_celery_plugin_request_latency_seconds",
    "Duration of plugin calls (Flyte connector: request_latency)",
    ["plugin", "operation"],
    buckets=_LATENCY_BUCKETS,
)
PLUGIN_CALLS_RUNNING = Gauge(
    "flyte_celery_plugin_calls_running",
    "Plugin calls holding a slot now (caching.workers per plugin, per process; summed)",
    ["plugin"],
    multiprocess_mode="livesum",
)
PLUGIN_CALLS_WAITING = Gauge(
    "flyte_celery_plugin_calls_waiting",
    "Plugin calls waiting for a slot now (steadily above zero: the plugin is saturated)",
    ["plugin"],
    multiprocess_mode="livesum",
)
RATE_LIMITER_WAIT = Histogram(
    "flyte_celery_rate_limiter_wait_seconds",
    "Time plugin calls waited for a global rate limiter, per wait",
    ["limiter"],
    buckets=_LATENCY_BUCKETS,
)
TICK_DURATION = Histogram(
    "flyte_celery_tick_duration_seconds",
    "Duration of the leader scheduler's ticks",
    buckets=_LATENCY_BUCKETS,
)
LEADER = Gauge(
    "flyte_celery_scheduler_leader",
    "1 while this process holds the shard's scheduler lease (summed over live processes)",
    ["shard"],
    multiprocess_mode="livesum",
)
CACHE_HITS = Counter(
    "flyte_celery_cache_hits", "Result-cache lookups that found outputs", ["task_type"]
)
CACHE_MISSES = Counter(
    "flyte_celery_cache_misses", "Result-cache lookups that found none (or failed)", ["task_type"]
)
RESOURCE_WAIT = Histogram(
    "flyte_celery_resource_wait_time_seconds",
    "Time from the first quota denial to the grant (Flyte: resource_wait_time)",
    ["namespace"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)


def zero_series(
    calls: Mapping[str, Iterable[str]],
    limiters: Iterable[str],
    task_types: Iterable[str],
    namespaces: Iterable[str],
) -> None:
    """Make every series that will exist, now, at zero: a dashboard shows 0, not "No data".

    A labelled series exists only once something records it; a plugin that never failed
    would have no failure series at all, and a rate over it reads as missing data.

    Args:
        calls: Each plugin id and the calls it makes (``create``, ``get``, ``do``...).
        limiters: The global rate limiters' names (``<plugin id>/read``, ``/write``).
        task_types: The task types whose result-cache lookups are counted.
        namespaces: The quota namespaces (``<plugin id>:<namespace>``).
    """
    for plugin, operations in calls.items():
        PLUGIN_CALLS_RUNNING.labels(plugin)
        PLUGIN_CALLS_WAITING.labels(plugin)
        for operation in operations:
            PLUGIN_REQUESTS_SUCCESS.labels(plugin, operation)
            # No error code until one happens: the series without one holds the zero, so
            # a sum by plugin or operation reads 0.
            PLUGIN_REQUESTS_FAILURE.labels(plugin, operation, "")
            PLUGIN_LATENCY.labels(plugin, operation)
    for name in limiters:
        RATE_LIMITER_WAIT.labels(name)
    for task_type in task_types:
        CACHE_HITS.labels(task_type)
        CACHE_MISSES.labels(task_type)
    for namespace in namespaces:
        RESOURCE_WAIT.labels(namespace)


def process_ended() -> None:
    """Drop this process's live gauges (its leadership) as it exits, in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
