"""The scale benchmark's plugin: jobs that stay RUNNING until released, counting Gets.

It is tests.remote_job's plugin on a TimedJobService whose state also counts each Get
(``INCR`` of :data:`GETS_KEY`) and answers SUCCEEDED once :data:`RELEASE_KEY` is set. Its
resync comes from FLYTE_CELERY_BENCH_HOLD_RESYNC; no rate limit holds it back.
"""

from __future__ import annotations

import os

from plugins.webapi import PluginConfig, PluginEntry
from tests.remote_job import JobHandle, RemoteJobPlugin, TimedJobService, process_redis

GETS_KEY = "bench:gets"
RELEASE_KEY = "bench:release"

UNLIMITED = {"qps": 100000, "burst": 10000}


class HoldingJobService(TimedJobService):
    """Timed jobs that finish only when released; every Get is counted."""

    def state(self, handle: JobHandle) -> str:
        pipe = process_redis(self.redis_url).pipeline(transaction=False)
        pipe.incr(GETS_KEY)
        pipe.exists(RELEASE_KEY)
        _, released = pipe.execute()
        return "SUCCEEDED" if released else "RUNNING"


def _config() -> PluginConfig:
    resync = os.environ.get("FLYTE_CELERY_BENCH_HOLD_RESYNC", "30s")
    return PluginConfig.model_validate(
        {
            "caching": {"resyncInterval": resync, "size": 500000},
            "readRateLimiter": UNLIMITED,
            "writeRateLimiter": UNLIMITED,
        }
    )


ENTRIES = [PluginEntry("hold", ["hold"], lambda: RemoteJobPlugin(HoldingJobService(), _config()))]
