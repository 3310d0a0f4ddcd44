"""Engine throughput and latency, against raw Celery no-op tasks in the same run.

Rounds (FLYTE_CELERY_BENCH_ROUNDS, default 5) of 2,000 executions of a no-op async
plugin whose first Get returns success, submitted with ``submit_many`` through one beat
and one worker (prefork, concurrency 2), each followed by 2,000 raw Celery no-op tasks
on an identically configured worker; the median ratio is the figure. Creates are
batched, so the engine sends fewer messages than it runs executions. Also: p50/p99
latency of 200 executions submitted one at a time, from submit to the Create call and
to ``wait()`` returning SUCCESS, and from remote completion to SUCCESS being visible,
with a signal and without one."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from flyteidl.core import tasks_pb2

from plugins.core import Phase
from scheduler import Client, Submission
from scheduler._backend.keys import Keys
from tests.benchmarks.stacks import production_timings
from tests.helpers import RedisServer, task_template, wait_for
from tests.integration.stack import ROOT, Stack
from tests.remote_job import CREATED_KEY

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "2000"))
LATENCY_N = 200  # executions one at a time: p99 of 200 is not just the slowest one
COMPLETION_N = 10  # completion samples, each waiting out a 1 s job
ROUNDS = int(os.environ.get("FLYTE_CELERY_BENCH_ROUNDS", "5"))


def template(seconds: float) -> tasks_pb2.TaskTemplate:
    """A job that finishes ``seconds`` after its Create (the plugin reads the custom field)."""
    return task_template("noop", custom={"seconds": seconds})


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextmanager
def raw_worker(stack: Stack) -> Iterator[None]:
    """A Celery worker of the raw no-op app, configured as flyte-celery's is."""
    from tests.benchmarks import noop

    log_path = stack.directory / "raw-worker.log"
    log = log_path.open("ab")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.benchmarks.noop:raw", "worker", "-l",
         "INFO", "-c", "2", "-Q", "raw-bench", "--without-mingle", "--without-gossip", "-n",
         "raw@%h"],
        env=dict(stack.env), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: "ready." in log_path.read_text(), timeout=60)
        noop.raw.conf.broker_url = stack.redis_url
        yield
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()


def raw_celery_rate(client: redis.Redis) -> float:
    """N raw no-op tasks, published one by one, to the last one done: tasks/s."""
    from tests.benchmarks import noop

    client.delete("bench:raw-done")
    start = time.perf_counter()
    for _ in range(N):
        noop.raw_noop.apply_async()
    wait_for(lambda: int(client.get("bench:raw-done") or 0) >= N, timeout=600, interval=0.05)
    return N / (time.perf_counter() - start)


def engine_rate(api: Client, client: redis.Redis) -> tuple[float, float]:
    """N executions submitted with submit_many, to the last SUCCESS: (submissions/s, /s)."""
    finished = Keys(api.settings.key_prefix).index("finished")
    before = int(client.zcard(finished))
    start = time.perf_counter()
    submitted = api.submit_many([Submission(template(0)) for _ in range(N)])
    submit_rate = N / (time.perf_counter() - start)
    # Done when the finished index holds them all: one cheap read per poll, as the raw
    # run counts its tasks, not one read per execution.
    wait_for(lambda: int(client.zcard(finished)) >= before + N, timeout=600, interval=0.05)
    rate = N / (time.perf_counter() - start)
    assert all(ex.refresh().phase is Phase.SUCCESS for ex in submitted)
    return submit_rate, rate


def test_engine_throughput_and_latency(redis_server: RedisServer, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    stack = Stack(
        redis_server.url,
        tmp_path,
        "http://unused",
        plugins="tests.benchmarks.noop:ENTRIES",
        overrides=production_timings(),
    )
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        api = stack.client()
        # Warm up: load plugins and scripts everywhere.
        api.submit(template(0)).wait(60)

        # Alternate engine and raw rounds: a burst of load on this shared machine then
        # hits both, and the median ratio is the figure.
        rounds: list[tuple[float, float, float]] = []
        with raw_worker(stack):
            for _ in range(ROUNDS):
                submit_rate, rate = engine_rate(api, client)
                rounds.append((submit_rate, rate, raw_celery_rate(client)))

        # Latency, one execution at a time: submit -> Create called, and -> SUCCESS (wait).
        to_create, to_success = [], []
        for _ in range(LATENCY_N):
            t0 = time.time()
            ex = api.submit(template(0))
            ex.wait(60)
            to_success.append(time.time() - t0)
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
    finally:
        stack.stop()
        client.close()

    ratios = sorted(rate / raw for _, rate, raw in rounds)
    print(f"\n{N} executions through beat + 1 worker (prefork -c 2), {ROUNDS} rounds:")
    for number, (submit_rate, rate, raw) in enumerate(rounds, 1):
        print(f"  round {number}: submit_many {submit_rate:7.1f}/s, executions {rate:7.1f}/s "
              f"(submit to the last SUCCESS), raw Celery no-op tasks {raw:7.1f}/s: "
              f"{rate / raw:.2f}x")  # fmt: skip
    print(f"  ratio                  {statistics.median(ratios):8.2f}x raw Celery (median; "
          f"{ratios[0]:.2f}-{ratios[-1]:.2f})")  # fmt: skip
    for label, values in (("submit -> Create", to_create), ("submit -> SUCCESS", to_success)):
        print(f"  {label:22} p50 {statistics.median(values) * 1000:7.1f} ms"
              f"  p99 {pct(values, 0.99) * 1000:7.1f} ms  ({LATENCY_N} one at a time)")  # fmt: skip
    for label, values in (("without signal", unsignalled), ("with signal", signalled)):
        print(f"  done -> SUCCESS {label:15} p50 {statistics.median(values) * 1000:7.1f} ms"
              f"  p99 {pct(values, 0.99) * 1000:7.1f} ms")  # fmt: skip
