"""Scale: N executions held RUNNING through one beat and one worker, at a fixed resync.

N (FLYTE_CELERY_BENCH_N, default 100,000; CI's smoke mode runs 100) executions of a
plugin whose jobs stay RUNNING until released are submitted with ``submit_many``, once
for each of three plugins (``tests.benchmarks.holding``): ``hold``, whose ``async def``
Get costs nothing (the engine alone); ``hold-async``, whose ``async def`` Get waits 50 ms
on the loop; and ``hold-blocking``, whose plain ``def`` Get blocks 50 ms, as a blocking
HTTP call does (FLYTE_CELERY_BENCH_PLUGINS picks some, comma-separated). Then,
for a few resync periods, the benchmark counts the Gets the plugin answers and compares
them with the need (N / resync): the ratio must reach 1.0 for the system to hold N in
flight. It also prints the Redis bytes per execution in flight (``INFO memory``, less
the benchmark plugin's own keys), the beat's and the worker's RSS, the worst p99 of
the scheduler's tick in the window (from the beat's tick summaries), the CPU each process
used in the window (and the worker pool's per Get), the time to
create all, and the time to drain all after release. FLYTE_CELERY_BENCH_RESYNC sets
the resync (default 30 s; 5 s in smoke mode), FLYTE_CELERY_BENCH_HOLD_BACKOFF the Gets'
back-off after Create (``caching.pollBackoff``: the default 1 s, or ``0s``, Flyte's schedule);
the Gets answered from the first Create to one resync after the last shows what the back-off
costs while executions start.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from plugins.core import Phase
from scheduler import Submission
from tests.benchmarks.holding import (
    BACKOFF_VARIABLE,
    DESCRIBED,
    GETS_KEY,
    RELEASE_KEY,
    held,
    latency,
)
from tests.benchmarks.measure import cores_line, rss_mb
from tests.benchmarks.stacks import cpu_window, drained_after, production_timings
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack
from tests.remote_job import CREATE_CALLS_KEY, CREATED_KEY

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "100000"))
RESYNC = float(os.environ.get("FLYTE_CELERY_BENCH_RESYNC", "30" if N >= 1000 else "5"))
WINDOW_PERIODS = int(os.environ.get("FLYTE_CELERY_BENCH_WINDOW", "3"))  # resync periods measured


PLUGINS = os.environ.get("FLYTE_CELERY_BENCH_PLUGINS", "hold,hold-async,hold-blocking").split(",")


@pytest.mark.parametrize("kind", [k.strip() for k in PLUGINS if k.strip()])
def test_executions_held_in_flight(
    kind: str, redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    monkeypatch.setenv("FLYTE_CELERY_BENCH_HOLD_RESYNC", f"{RESYNC:g}s")  # the plugin's resync
    timings = production_timings()
    timings["tick_stats_period"] = timedelta(seconds=RESYNC)  # one summary per period
    stack = Stack(
        redis_server.url,
        tmp_path,
        "http://unused",
        plugins="tests.benchmarks.holding:ENTRIES",
        overrides=timings,
    )
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        api = stack.client()
        base = client.info("memory")["used_memory"]

        start = time.perf_counter()
        executions = api.submit_many([Submission(held(kind)) for _ in range(N)])
        submitted = time.perf_counter() - start
        wait_for(lambda: client.hlen(CREATED_KEY) >= N, timeout=3600, interval=0.5)
        created = time.perf_counter() - start

        # Steady state: count the Gets over a few resync periods.
        time.sleep(RESYNC)  # one period for the first Gets to spread out (and back off)
        starting = int(client.get(GETS_KEY) or 0) / N  # Gets per execution so far
        beat_log = stack.log("beat")
        logged = len(beat_log.read_bytes())
        cpu = cpu_window(stack, redis_server)
        gets0, t0 = int(client.get(GETS_KEY) or 0), time.perf_counter()
        time.sleep(RESYNC * WINDOW_PERIODS)
        gets1, t1 = int(client.get(GETS_KEY) or 0), time.perf_counter()
        cores = cpu.cores(t1 - t0)
        pool = sum(v for name, v in cores.items() if " child " in name)
        achieved = (gets1 - gets0) / (t1 - t0)
        needed = N / RESYNC
        # The window's tick summaries (one per period): the worst p99 among them.
        window = beat_log.read_bytes()[logged:].decode(errors="replace")
        p99s = [float(m) for m in re.findall(r"ticks, p50 [\d.]+ ms, p99 ([\d.]+) ms", window)]
        tick_p99 = f"{max(p99s):.1f} ms" if p99s else "n/a (no summary in the window)"
        # The benchmark plugin's own keys (its record of Creates) are not the engine's.
        own = sum(client.memory_usage(k) or 0 for k in (CREATED_KEY, CREATE_CALLS_KEY, GETS_KEY))
        per_execution = (client.info("memory")["used_memory"] - base - own) / N
        beat = rss_mb(stack.processes["beat"].pid)
        worker = rss_mb(stack.processes["w1"].pid)

        client.set(RELEASE_KEY, 1)
        drained = drained_after(api, executions, N)
        calls = Counter(int(v) for v in client.hvals(CREATE_CALLS_KEY))
        successes = len(api.list(phase=Phase.SUCCESS, limit=N + 1))
    finally:
        stack.stop()
        client.close()

    described = DESCRIBED[kind].format(ms=latency() * 1000)
    backoff = os.environ.get(BACKOFF_VARIABLE, "1s")
    print(
        f"\n{N} executions of {kind} ({described}) held RUNNING, resync {RESYNC:g}s, "
        f"poll back-off {backoff}, one beat + one worker (-c 2):"
    )
    print(f"  submit_many        {N / submitted:10.0f}/s")
    print(f"  all created after  {created:10.1f} s")
    print(f"  Gets while starting {starting:9.1f} per execution (to one resync after the last)")
    print(
        f"  Gets/s achieved    {achieved:10.1f}  needed {needed:.1f}  ratio {achieved / needed:.2f}"
    )
    print(f"  CPU in the window  {cores_line(cores)}")
    print(f"  worker CPU per Get {pool / max(achieved, 1e-9) * 1e6:10.0f} us (pool processes)")
    print(f"  Redis per exec     {per_execution:10.0f} bytes (INFO memory; 2 KB target)")
    print(f"  tick p99           {tick_p99:>10}")
    print(f"  RSS                beat {beat:.0f} MB, worker {worker:.0f} MB")
    print(f"  drained after      {drained:10.1f} s (release to the last SUCCESS)")
    print(
        f"  Creates            {sum(k * n for k, n in calls.items())} for {N} executions; "
        f"{calls.get(1, 0)} created exactly once; {successes} SUCCESS"
    )
