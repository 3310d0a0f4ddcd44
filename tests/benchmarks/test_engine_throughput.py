"""Engine throughput and latency, against raw Celery no-op tasks in the same run.

2,000 executions of a no-op async plugin whose first Get returns success, submitted
with ``submit_many`` through one beat and one worker (prefork, concurrency 2), compared
with 2,000 raw Celery no-op tasks on an identically configured worker. Creates are
batched, so the engine sends fewer messages than it runs executions. Also: p50/p99
latency from submit to the Create call, and from remote completion to SUCCESS being
visible, with a signal and without one.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import redis
from flyteidl.core import tasks_pb2
from google.protobuf import struct_pb2

from plugins.core import Phase
from scheduler import Submission
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import ROOT, Stack
from tests.remote_job import CREATED_KEY

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "2000"))
LATENCY_N = 100  # submit -> Create samples: p99 of 100 is not just the slowest one
COMPLETION_N = 10  # completion samples, each waiting out a 1 s job


def template(seconds: float) -> tasks_pb2.TaskTemplate:
    """A job that finishes ``seconds`` after its Create (the plugin reads the custom field)."""
    t = tasks_pb2.TaskTemplate(type="noop")
    t.custom.CopyFrom(struct_pb2.Struct(fields={"seconds": struct_pb2.Value(number_value=seconds)}))
    return t


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_celery_rate(stack: Stack, client: redis.Redis) -> float:
    from tests.benchmarks import noop

    env = dict(stack.env)
    log = (stack.directory / "raw-worker.log").open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.benchmarks.noop:raw", "worker", "-l",
         "INFO", "-c", "2", "-Q", "raw-bench", "--without-mingle", "--without-gossip", "-n",
         "raw@%h"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: "ready." in (stack.directory / "raw-worker.log").read_text(), timeout=60)
        noop.raw.conf.broker_url = stack.redis_url
        start = time.perf_counter()
        for _ in range(N):
            noop.raw_noop.apply_async()
        wait_for(lambda: int(client.get("bench:raw-done") or 0) >= N, timeout=600, interval=0.05)
        return N / (time.perf_counter() - start)
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()


def test_engine_throughput_and_latency(redis_server: RedisServer, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    stack = Stack(
        redis_server.url, tmp_path, "http://unused", plugins="tests.benchmarks.noop:ENTRIES"
    )
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        api = stack.client()
        # Warm up: load plugins and scripts everywhere.
        api.submit(template(0)).wait(60)

        start = time.perf_counter()
        submitted = api.submit_many([Submission(template(0)) for _ in range(N)])
        submit_rate = N / (time.perf_counter() - start)
        for ex in submitted:
            ex.wait(600)
        engine_rate = N / (time.perf_counter() - start)
        assert all(ex.phase is Phase.SUCCESS for ex in submitted)

        # Latency: submit -> Create called.
        to_create = []
        for _ in range(LATENCY_N):
            t0 = time.time()
            ex = api.submit(template(0))
            ex.wait(60)
            to_create.append(float(client.hget(CREATED_KEY, ex.record.token)) - t0)

        # Latency: remote completion -> SUCCESS visible, without and with a signal.
        def completion_latency(signal: bool) -> list[float]:
            latencies = []
            for _ in range(COMPLETION_N):
                ex = api.submit(template(1.0))
                wait_for(lambda ex=ex: ex.refresh().phase is Phase.RUNNING, timeout=60)
                created = float(client.hget(CREATED_KEY, ex.record.token))
                done_at = created + 1.0
                time.sleep(max(0.0, done_at - time.time()))
                if signal:
                    ex.signal()
                ex.wait(60)
                latencies.append(ex.refresh().record.updated_at.timestamp() - done_at)
            return latencies

        unsignalled = completion_latency(False)
        signalled = completion_latency(True)
        raw_rate = raw_celery_rate(stack, client)
    finally:
        stack.stop()
        client.close()

    print(f"\n{N} executions through beat + 1 worker (prefork -c 2):")
    print(f"  submit_many rate       {submit_rate:8.1f}/s")
    print(f"  executions/s           {engine_rate:8.1f}/s (submit to the last SUCCESS)")
    print(f"  raw Celery no-op tasks {raw_rate:8.1f}/s")
    print(f"  ratio                  {engine_rate / raw_rate:8.2f}x raw Celery")
    print(f"  submit -> Create       p50 {statistics.median(to_create) * 1000:7.1f} ms"
          f"  p99 {pct(to_create, 0.99) * 1000:7.1f} ms")  # fmt: skip
    for label, values in (("without signal", unsignalled), ("with signal", signalled)):
        print(f"  done -> SUCCESS {label:15} p50 {statistics.median(values) * 1000:7.1f} ms"
              f"  p99 {pct(values, 0.99) * 1000:7.1f} ms")  # fmt: skip
