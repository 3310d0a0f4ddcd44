"""The benchmark's plugin and a raw Celery app to compare the engine with.

The plugin is tests.remote_job's on a TimedJobService: a Get is a clock read, so the
figures are the engine's own; Creates are recorded in Redis for the latency figures.
"""

from __future__ import annotations

import os

from celery import Celery

from plugins.webapi import PluginConfig, PluginEntry
from tests.remote_job import RemoteJobPlugin, TimedJobService, process_redis

# No rate limit, nor concurrency limit, may hold the engine back; resync at Flyte's fastest.
UNLIMITED = {"qps": 100000, "burst": 10000}
CONFIG = PluginConfig.model_validate(
    {
        "caching": {"resyncInterval": "5s", "workers": 200},
        "readRateLimiter": UNLIMITED,
        "writeRateLimiter": UNLIMITED,
    }
)

ENTRIES = [PluginEntry("noop", ["noop"], lambda: RemoteJobPlugin(TimedJobService, CONFIG))]

raw = Celery("raw", broker=os.environ.get("FLYTE_CELERY_REDIS_URL", "redis://127.0.0.1:6379/0"))
raw.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue="raw-bench",
    # The same reliability and event settings as flyte-celery's own app (worker/app.py),
    # so the ratio compares like with like.
    worker_send_task_events=True,
    task_send_sent_event=True,
)


@raw.task(name="raw.noop")  # type: ignore[untyped-decorator]
def raw_noop() -> None:
    """A no-op that counts itself, so the benchmark knows when all ran."""
    process_redis().incr("bench:raw-done")
