"""Throughput of the Redis primitives, as ratios against raw SET round trips on one connection."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import redis

from plugins.core import AllocationStatus
from scheduler._backend import ExecutionStore, RedisRateLimiter, RedisResourceManager
from scheduler._model import ExecutionRecord

SECONDS = 2.0


def rate(step: Callable[[int], object], seconds: float = SECONDS) -> float:
    """Calls of ``step`` per second over about ``seconds``."""
    for i in range(50):  # warm up: load scripts, open the connection
        step(-i - 1)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            step(n)
            n += 1
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def test_redis_primitives_throughput(redis_client: redis.Redis) -> None:
    rm = RedisResourceManager(redis_client)
    rm.register_resource_quota("bench", 1000)
    limiter = RedisRateLimiter(redis_client, "bench:limiter", qps=1e9, burst=10**9)
    store = ExecutionStore(redis_client)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    current = [
        store.create(
            ExecutionRecord(
                id="b/b/bench",
                project="b",
                domain="b",
                name="bench",
                task_type="noop",
                template_uri="memory://b/task.pb",
                inputs_uri="memory://b",
                output_prefix="memory://b/out",
                created_at=t0,
                updated_at=t0,
                pending=True,
            )
        )
    ]

    def raw_set(i: int) -> None:
        redis_client.set("bench:raw", i)

    def allocate_release(i: int) -> None:
        token = f"t{i}"
        assert (
            rm.allocate_resource("bench", token, None, project="p", domain="d")
            is AllocationStatus.GRANTED
        )
        rm.release_resource("bench", token)

    def acquire(i: int) -> None:
        assert limiter.try_acquire()

    def transition(i: int) -> None:
        rec = current[0]
        new = replace(
            rec,
            phase_version=rec.phase_version + 1,
            next_get_at=t0 + timedelta(seconds=i % 30),
            updated_at=t0 + timedelta(milliseconds=abs(i)),
        )
        written = store.transition(rec, new)
        assert written is not None
        current[0] = written

    raw = rate(raw_set)
    results = {
        "allocate+release pairs": rate(allocate_release),
        "limiter acquisitions": rate(acquire),
        "store transitions": rate(transition),
    }
    print(f"\nraw Redis SET round trips: {raw:10.0f}/s (1.00x)")
    for name, value in results.items():
        print(f"{name:>26}: {value:10.0f}/s ({value / raw:.2f}x raw SET)")
    assert all(v > 0 for v in results.values())
