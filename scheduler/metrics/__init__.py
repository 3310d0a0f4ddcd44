"""What the processes measure in themselves (Prometheus), and what a job ran into.

The instruments are in :mod:`.instruments`; :func:`plugin_call` counts and times a plugin
call and notes its failure for the job making it (:func:`job_failures`).
"""

from scheduler.metrics.calls import job_failures, note_failure, plugin_call
from scheduler.metrics.endpoint import processes_registry, serve_process_metrics
from scheduler.metrics.instruments import (
    CACHE_HITS,
    CACHE_MISSES,
    LEADER,
    PLUGIN_CALLS_RUNNING,
    PLUGIN_CALLS_WAITING,
    PLUGIN_LATENCY,
    PLUGIN_REQUESTS_FAILURE,
    PLUGIN_REQUESTS_SUCCESS,
    RATE_LIMITER_WAIT,
    RESOURCE_WAIT,
    TICK_DURATION,
    process_ended,
    zero_series,
)

__all__ = [
    "CACHE_HITS",
    "CACHE_MISSES",
    "LEADER",
    "PLUGIN_CALLS_RUNNING",
    "PLUGIN_CALLS_WAITING",
    "PLUGIN_LATENCY",
    "PLUGIN_REQUESTS_FAILURE",
    "PLUGIN_REQUESTS_SUCCESS",
    "RATE_LIMITER_WAIT",
    "RESOURCE_WAIT",
    "TICK_DURATION",
    "job_failures",
    "note_failure",
    "plugin_call",
    "process_ended",
    "processes_registry",
    "serve_process_metrics",
    "zero_series",
]
