"""The scale benchmark's plugins: jobs that stay RUNNING until released, counting Gets.

Each is tests.remote_job's plugin on a HoldingJobService, whose state also counts each Get
and answers SUCCEEDED once :data:`RELEASE_KEY` is set. Each process counts its Gets in
memory; a thread adds them to :data:`GETS_KEY`, and looks at :data:`RELEASE_KEY`, every
0.2 s. No rate limit holds them back; their resync comes from
FLYTE_CELERY_BENCH_HOLD_RESYNC, and the Gets' back-off after Create (``caching.pollBackoff``)
from FLYTE_CELERY_BENCH_HOLD_BACKOFF (the plugin default, 1 s; ``0s`` is Flyte's schedule).

Three Gets, one plugin (task type) each, as users write them:

- ``hold``: ``async def``, answers at once: what the engine alone costs.
- ``hold-async``: ``async def``, waits FLYTE_CELERY_BENCH_HOLD_LATENCY (50 ms) on the
  event loop, as an async HTTP client does.
- ``hold-blocking``: a plain ``def`` that blocks for that long (``time.sleep``), as a
  blocking HTTP call does.

The two that wait run FLYTE_CELERY_BENCH_HOLD_WORKERS (``caching.workers``, 200, as the
README advises: a Get job's whole batch at once) calls at once per worker process.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

from flyteidl.core import tasks_pb2
from google.protobuf import struct_pb2

from plugins.webapi import GetContext, PluginConfig, PluginEntry
from tests.remote_job import JobHandle, RemoteJobPlugin, TimedJobService, process_redis

DESCRIBED = {
    "hold": "async def Get, free",
    "hold-async": "async def Get, waits {ms:g} ms on the loop",
    "hold-blocking": "plain def Get, blocks {ms:g} ms",
}
"""Each plugin, as the benchmarks' reports describe it."""

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


def held(kind: str) -> tasks_pb2.TaskTemplate:
    """A template of plugin ``kind`` whose job would run for ages (it is released instead)."""
    t = tasks_pb2.TaskTemplate(type=kind)
    t.custom.CopyFrom(struct_pb2.Struct(fields={"seconds": struct_pb2.Value(number_value=1e9)}))
    return t


def latency() -> float:
    """The remote latency the waiting plugins pretend, in seconds."""
    return float(os.environ.get("FLYTE_CELERY_BENCH_HOLD_LATENCY", "0.05"))


class HoldingPlugin(RemoteJobPlugin):
    """``hold``: an ``async def`` Get that answers at once (the engine's own cost)."""

    async def get(self, ctx: GetContext[JobHandle]) -> str:
        return self.service.state(ctx.resource_meta)


class AsyncHoldingPlugin(RemoteJobPlugin):
    """``hold-async``: an ``async def`` Get that waits on the loop, as async HTTP does."""

    async def get(self, ctx: GetContext[JobHandle]) -> str:
        await asyncio.sleep(latency())
        return self.service.state(ctx.resource_meta)


class BlockingHoldingPlugin(RemoteJobPlugin):
    """``hold-blocking``: a plain ``def`` Get that blocks its thread, as ``requests`` does."""

    def get(self, ctx: GetContext[JobHandle]) -> str:  # type: ignore[override]
        time.sleep(latency())
        return self.service.state(ctx.resource_meta)


BACKOFF_VARIABLE = "FLYTE_CELERY_BENCH_HOLD_BACKOFF"


def _config(workers: int | None = None) -> PluginConfig:
    resync = os.environ.get("FLYTE_CELERY_BENCH_HOLD_RESYNC", "30s")
    caching: dict[str, object] = {"resyncInterval": resync, "size": 500000}
    if BACKOFF_VARIABLE in os.environ:
        caching["pollBackoff"] = os.environ[BACKOFF_VARIABLE]
    if workers is not None:
        caching["workers"] = workers
    return PluginConfig.model_validate(
        {"caching": caching, "readRateLimiter": UNLIMITED, "writeRateLimiter": UNLIMITED}
    )


def _waiting_workers() -> int:
    return int(os.environ.get("FLYTE_CELERY_BENCH_HOLD_WORKERS", "200"))


ENTRIES = [
    # The engine alone: a whole Get job's calls at once (each costs nothing).
    PluginEntry("hold", ["hold"], lambda: HoldingPlugin(HoldingJobService(), _config(workers=200))),
    PluginEntry(
        "hold-async",
        ["hold-async"],
        lambda: AsyncHoldingPlugin(HoldingJobService(), _config(_waiting_workers())),
    ),
    PluginEntry(
        "hold-blocking",
        ["hold-blocking"],
        lambda: BlockingHoldingPlugin(HoldingJobService(), _config(_waiting_workers())),
    ),
]
