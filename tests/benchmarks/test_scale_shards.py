"""Scale across shards: N executions held RUNNING on a local Redis Cluster, two beats.

The cluster is three masters with a replica each (``tests.cluster``); the deployment has
FLYTE_CELERY_BENCH_SHARDS shards (4) led by two beat processes, one worker
(``-c FLYTE_CELERY_BENCH_CONCURRENCY``, 2), and
the Celery broker on a single Redis of its own (kombu cannot use a cluster), which also
keeps the benchmark plugin's counts, so the cluster holds only what the engine stores.
N (FLYTE_CELERY_BENCH_N, default 1,000,000; CI's smoke mode runs 100) executions of
FLYTE_CELERY_BENCH_PLUGIN (``hold-blocking``: a plain ``def`` Get that blocks 50 ms, as a
blocking HTTP call does; or ``hold``, ``hold-async``, see ``tests.benchmarks.holding``) are
submitted with ``submit_many``; after one resync for the first Gets to spread out, the Gets
answered over FLYTE_CELERY_BENCH_WINDOW resync periods (1) are compared with the need
(N / resync; FLYTE_CELERY_BENCH_RESYNC, default 300 s, 5 s in smoke mode). It prints the
figures of ``test_scale.py`` plus each shard's tick p99 (from the beats' tick summaries)
and each node's memory; the Redis bytes per execution are the masters' (the data once),
with the replicas' copy beside. After the release, the counts by phase must be exact.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
import redis

from plugins.core import Phase
from scheduler import Client, Submission
from tests.benchmarks.holding import DESCRIBED, GETS_KEY, RELEASE_KEY, held
from tests.benchmarks.measure import CpuWindow, command_usec, commands_line, cores_line, rss_mb
from tests.benchmarks.stacks import production_timings
from tests.cluster import RedisCluster
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack
from tests.remote_job import CREATE_CALLS_KEY, CREATED_KEY

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "1000000"))
RESYNC = float(os.environ.get("FLYTE_CELERY_BENCH_RESYNC", "300" if N >= 1000 else "5"))
WINDOW_PERIODS = int(os.environ.get("FLYTE_CELERY_BENCH_WINDOW", "1"))
SHARDS = int(os.environ.get("FLYTE_CELERY_BENCH_SHARDS", "4"))
PLUGIN = os.environ.get("FLYTE_CELERY_BENCH_PLUGIN", "hold-blocking")
CONCURRENCY = int(os.environ.get("FLYTE_CELERY_BENCH_CONCURRENCY", "2"))
STALL = float(os.environ.get("FLYTE_CELERY_BENCH_STALL", "600"))
BEATS = ("beat", "beat2")


def succeeded(api: Client) -> int:
    return sum(c.count for c in api.phase_counts() if c.phase is Phase.SUCCESS)


def wait_created(counts: redis.Redis, n: int) -> int:
    """Wait until ``n`` are created, or creation stalls; how many were created.

    With the workers at capacity, the scheduler launches no more (backpressure): the rest
    wait for room in the queue. Creation that gains under 1% of ``n`` in FLYTE_CELERY_BENCH_STALL
    seconds (600) has stalled, and the figures are then of those created.
    """
    mark, since = -1, time.monotonic()
    while True:
        created = int(counts.hlen(CREATED_KEY))
        if created >= n:
            return created
        if created > mark + n // 100:
            mark, since = created, time.monotonic()
        elif time.monotonic() - since > STALL:
            return created
        time.sleep(1)


def nodes_memory(cluster: RedisCluster) -> dict[str, int]:
    """Each live node's ``used_memory``, named ``<role> <port>``."""
    found = {}
    for port in cluster.processes:
        if cluster.processes[port].poll() is not None:
            continue
        with redis.Redis(port=port) as node:
            info = node.info()
            found[f"{info['role']} {port}"] = int(info["used_memory"])
    return found


def tick_p99s(stack: Stack, offsets: dict[str, int]) -> dict[int, float]:
    """The worst tick p99 of each shard in the beats' summaries since ``offsets``."""
    worst: dict[int, float] = {}
    pattern = r"scheduler shard (\d+): \d+ ticks, p50 [\d.]+ ms, p99 ([\d.]+) ms"
    for name in BEATS:
        text = stack.log(name).read_bytes()[offsets[name] :].decode(errors="replace")
        for shard, p99 in re.findall(pattern, text):
            worst[int(shard)] = max(worst.get(int(shard), 0.0), float(p99))
    return worst


def test_executions_held_in_flight_across_shards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ExitStack() as cleanup:  # every process stops, whatever fails
        (tmp_path / "cluster").mkdir()
        cluster = RedisCluster.start(tmp_path / "cluster")
        cleanup.callback(cluster.stop)
        broker = RedisServer.start(tmp_path)
        cleanup.callback(broker.stop)
        counts = broker.client()
        monkeypatch.setenv("FLYTE_CELERY_BENCH_HOLD_RESYNC", f"{RESYNC:g}s")
        monkeypatch.setenv("FLYTE_CELERY_BENCH_REDIS_URL", broker.url)
        monkeypatch.setenv("FLYTE_CELERY_BROKER_URL", broker.url)
        monkeypatch.setenv("FLYTE_CELERY_SHARDS", str(SHARDS))
        timings = production_timings()
        timings["tick_stats_period"] = timedelta(seconds=min(RESYNC, 60))
        stack = Stack(
            cluster.url,
            tmp_path,
            "http://unused",
            plugins="tests.benchmarks.holding:ENTRIES",
            overrides=timings,
        )
        cleanup.callback(stack.stop)
        stack.start_worker("w1", concurrency=CONCURRENCY)
        for name in BEATS:
            stack.start_beat(name)
        api = stack.client()
        base = nodes_memory(cluster)

        start = time.perf_counter()
        executions = api.submit_many([Submission(held(PLUGIN)) for _ in range(N)])
        submitted = time.perf_counter() - start
        launched = wait_created(counts, N)
        created = time.perf_counter() - start

        time.sleep(RESYNC)  # one period for the first Gets to spread out (and back off)
        starting = int(counts.get(GETS_KEY) or 0) / N
        offsets = {name: len(stack.log(name).read_bytes()) for name in BEATS}
        pids = {name: stack.processes[name].pid for name in BEATS}
        pids.update({"worker*": stack.processes["w1"].pid, "redis-broker": broker.process.pid})
        pids.update({f"redis {p}": c.pid for p, c in cluster.processes.items() if c.poll() is None})
        cpu = CpuWindow(pids)
        leading = [int(node.split()[1]) for node in nodes_memory(cluster) if "master" in node]
        usec0 = command_usec(leading)
        gets0, t0 = int(counts.get(GETS_KEY) or 0), time.perf_counter()
        held0 = int(counts.hlen(CREATED_KEY))
        time.sleep(RESYNC * WINDOW_PERIODS)
        gets1, t1 = int(counts.get(GETS_KEY) or 0), time.perf_counter()
        in_flight = (held0 + int(counts.hlen(CREATED_KEY))) // 2
        in_line = sum(api.runtime.store.totals.waiting_for_room(api.runtime.queues.all()).values())
        cores = cpu.cores(t1 - t0)
        usec1 = command_usec(leading)
        pool = sum(v for name, v in cores.items() if " child " in name)
        achieved = (gets1 - gets0) / (t1 - t0)
        needed = in_flight / RESYNC
        p99s = tick_p99s(stack, offsets)
        memory = nodes_memory(cluster)
        grown = {node: memory[node] - base.get(node, 0) for node in memory}
        masters = sum(v for node, v in grown.items() if node.startswith("master"))
        replicas = sum(v for node, v in grown.items() if node.startswith("slave"))
        rss = {name: rss_mb(stack.processes[name].pid) for name in (*BEATS, "w1")}

        counts.set(RELEASE_KEY, 1)
        released = time.perf_counter()
        wait_for(lambda: succeeded(api) >= N, timeout=4 * 3600, interval=5)
        drained = time.perf_counter() - released
        calls = Counter(int(v) for v in counts.hvals(CREATE_CALLS_KEY))
        by_phase = {c.phase: c.count for c in api.phase_counts() if c.count}
        listed = api.runtime.store.totals.count()
        assert by_phase == {Phase.SUCCESS: N} and listed == N, (by_phase, listed)
        assert executions[-1].refresh().phase is Phase.SUCCESS

    print(
        f"\n{N} executions of {PLUGIN} ({DESCRIBED[PLUGIN].format(ms=50)}) held RUNNING, "
        f"resync {RESYNC:g}s, {SHARDS} shards, two beats + one worker (-c {CONCURRENCY}), "
        "Redis Cluster "
        "of 3 masters + 3 replicas:"
    )
    print(f"  submit_many        {N / submitted:10.0f}/s")
    if launched < N:
        print(
            f"  creation stalled   at {launched} of {N} after {created:.1f} s: the workers were "
            f"at capacity; {in_line} waited for room in the queue in the window"
        )
    else:
        print(f"  all created after  {created:10.1f} s")
    print(f"  Gets while starting {starting:9.1f} per execution (to one resync after the last)")
    ratio = achieved / needed
    print(f"  Gets/s achieved    {achieved:10.1f}  needed {needed:.1f}  ratio {ratio:.2f}")
    print(f"  CPU in the window  {cores_line(cores)}")
    print(f"  worker CPU per Get {pool / max(achieved, 1e-9) * 1e6:10.0f} us (pool processes)")
    print(f"  masters per Get    {commands_line(usec0, usec1, max(gets1 - gets0, 1))}")
    print(
        f"  Redis per exec     {masters / N:10.0f} bytes on the masters (2 KB target), "
        f"{replicas / N:.0f} more on the replicas"
    )
    print(
        "  Redis nodes        " + ", ".join(f"{n} {v / 2**20:.0f} MiB" for n, v in memory.items())
    )
    shown = ", ".join(f"shard {s} {p:.1f} ms" for s, p in sorted(p99s.items())) or "n/a"
    print(f"  tick p99           {shown}")
    print("  RSS                " + ", ".join(f"{n} {v:.0f} MB" for n, v in rss.items()))
    print(f"  drained after      {drained:10.1f} s (release to the last SUCCESS)")
    print(
        f"  Creates            {sum(k * n for k, n in calls.items())} for {N} executions; "
        f"{calls.get(1, 0)} created exactly once; counts after release {by_phase[Phase.SUCCESS]} "
        f"SUCCESS, {listed} listed"
    )
