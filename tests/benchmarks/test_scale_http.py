"""Realistic scale: executions held RUNNING on a real HTTP job service with a remote latency.

The scale benchmark's plugins cost nothing or pretend a wait; here each Get is a real
HTTP request to tests.benchmarks.httpjobs (another process, aiohttp), answered after
FLYTE_CELERY_BENCH_HTTP_LATENCY (50 ms), by the plugins of tests.benchmarks.http_plugins:
``http-blocking`` (plain ``def``, urllib3) and ``http-async`` (``async def``, aiohttp);
FLYTE_CELERY_BENCH_HTTP_PLUGINS picks others (``http-requests``). For each, N
(FLYTE_CELERY_BENCH_HTTP_N, default 50,000, or FLYTE_CELERY_BENCH_N when smaller, as in
smoke mode) executions are submitted through one beat and one worker (-c 2), and over a
few resync periods (30 s; 5 s in smoke mode) the Gets the service answered are counted
against the need (N / resync). It also prints where the CPU went in that window (beat, the
worker's processes, Redis, the job service), the CPU of the worker's processes per Get,
the time to create all and to drain all after release, and that each job was created once.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flyteidl.core import tasks_pb2

from scheduler import Settings, Submission
from tests.benchmarks.http_plugins import workers
from tests.benchmarks.httpjobs import JobServiceProcess
from tests.benchmarks.measure import cores_line, rss_mb
from tests.benchmarks.stacks import cpu_window, drained_after, production_timings
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack

SCALE_N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "100000"))
N = int(os.environ.get("FLYTE_CELERY_BENCH_HTTP_N", str(min(50_000, SCALE_N))))
RESYNC = float(os.environ.get("FLYTE_CELERY_BENCH_RESYNC", "30" if N >= 1000 else "5"))
WINDOW_PERIODS = int(os.environ.get("FLYTE_CELERY_BENCH_WINDOW", "3"))
LATENCY = float(os.environ.get("FLYTE_CELERY_BENCH_HTTP_LATENCY", "0.05"))
PLUGINS = os.environ.get("FLYTE_CELERY_BENCH_HTTP_PLUGINS", "http-blocking,http-async").split(",")


@pytest.mark.parametrize("kind", [k.strip() for k in PLUGINS if k.strip()])
def test_http_jobs_held_in_flight(
    kind: str, redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    monkeypatch.setenv("FLYTE_CELERY_BENCH_HOLD_RESYNC", f"{RESYNC:g}s")  # the plugins' resync
    overrides = production_timings()
    overrides["tick_stats_period"] = timedelta(seconds=RESYNC)
    overrides["call_concurrency"] = max(Settings().call_concurrency, workers())
    service = JobServiceProcess(LATENCY)
    stack = Stack(
        redis_server.url,
        tmp_path,
        service.url,
        plugins="tests.benchmarks.http_plugins:ENTRIES",
        overrides=overrides,
        extra_env={"HTTP_JOBS_URL": service.url},
    )
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        api = stack.client()
        start = time.perf_counter()
        executions = api.submit_many(
            [Submission(tasks_pb2.TaskTemplate(type=kind)) for _ in range(N)]
        )
        wait_for(lambda: service.stats()["jobs"] >= N, timeout=3600, interval=0.5)
        created = time.perf_counter() - start

        time.sleep(RESYNC)  # one period for the first Gets to spread out
        cpu = cpu_window(stack, redis_server, {"job service": service.process.pid})
        gets0, t0 = service.stats()["gets"], time.perf_counter()
        time.sleep(RESYNC * WINDOW_PERIODS)
        gets1, t1 = service.stats()["gets"], time.perf_counter()
        cores = cpu.cores(t1 - t0)
        achieved = (gets1 - gets0) / (t1 - t0)
        worker_rss = rss_mb(stack.processes["w1"].pid)

        service.release()
        drained = drained_after(api, executions, N)
        stats = service.stats()
    finally:
        stack.stop()
        service.close()
        client.close()

    needed = N / RESYNC
    children = sum(v for name, v in cores.items() if " child " in name)
    print(
        f"\n{N} executions of {kind} on a real HTTP job service ({LATENCY * 1000:g} ms a "
        f"request), resync {RESYNC:g}s, caching.workers {workers()}, one beat + one worker (-c 2):"
    )
    print(f"  all created after  {created:10.1f} s")
    print(
        f"  Gets/s achieved    {achieved:10.1f}  needed {needed:.1f}  ratio {achieved / needed:.2f}"
    )
    print(f"  CPU in the window  {cores_line(cores)}")
    print(f"  worker CPU per Get {children / max(achieved, 1e-9) * 1e6:10.0f} us (pool processes)")
    print(f"  worker RSS         {worker_rss:10.0f} MB")
    print(f"  drained after      {drained:10.1f} s (release to the last SUCCESS)")
    print(f"  Creates            {stats['jobs']} jobs for {N} executions; {stats['twice']} twice")
