"""The scale benchmark's plugin: jobs that stay RUNNING until released, counting Gets.

It is tests.remote_job's plugin on a TimedJobService whose state also counts each Get
and answers SUCCEEDED once :data:`RELEASE_KEY` is set. The plugin should cost as little
as it can, since the benchmark measures the engine: its Get is ``async def`` (no thread
hop), and each process counts its Gets in memory; a thread adds them to :data:`GETS_KEY`,
and looks at :data:`RELEASE_KEY`, every 0.2 s. Its resync comes from
FLYTE_CELERY_BENCH_HOLD_RESYNC; no rate limit holds it back.
"""

from __future__ import annotations

import os
import threading
import time

from plugins.webapi import GetContext, PluginConfig, PluginEntry
from tests.remote_job import JobHandle, RemoteJobPlugin, TimedJobService, process_redis

GETS_KEY = "bench:gets"
RELEASE_KEY = "bench:release"

UNLIMITED = {"qps": 100000, "burst": 10000}
_FLUSH = 0.2  # seconds between a process's writes of its count


class HoldingJobService(TimedJobService):
    """Timed jobs that finish only when released; every Get is counted.

    A daemon thread adds this process's count to :data:`GETS_KEY` and reads
    :data:`RELEASE_KEY` every 0.2 s, so no count waits for the next burst of Gets.
    """

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._counted = 0
        self._released = False
        self._flusher: threading.Thread | None = None

    def _flush_forever(self) -> None:
        while True:
            time.sleep(_FLUSH)
            with self._lock:
                counted, self._counted = self._counted, 0
            pipe = process_redis(self.redis_url).pipeline(transaction=False)
            pipe.incrby(GETS_KEY, counted)
            pipe.exists(RELEASE_KEY)
            _, released = pipe.execute()
            self._released = bool(released)

    def state(self, handle: JobHandle) -> str:
        with self._lock:
            if self._flusher is None:  # started in the process that Gets (after the fork)
                self._flusher = threading.Thread(target=self._flush_forever, daemon=True)
                self._flusher.start()
            self._counted += 1
            return "SUCCEEDED" if self._released else "RUNNING"


class HoldingPlugin(RemoteJobPlugin):
    """RemoteJobPlugin whose Get runs on the batch's event loop (it never blocks long)."""

    async def get(self, ctx: GetContext[JobHandle]) -> str:
        return self.service.state(ctx.resource_meta)


def _config() -> PluginConfig:
    resync = os.environ.get("FLYTE_CELERY_BENCH_HOLD_RESYNC", "30s")
    return PluginConfig.model_validate(
        {
            "caching": {"resyncInterval": resync, "size": 500000},
            "readRateLimiter": UNLIMITED,
            "writeRateLimiter": UNLIMITED,
        }
    )


ENTRIES = [PluginEntry("hold", ["hold"], lambda: HoldingPlugin(HoldingJobService(), _config()))]
