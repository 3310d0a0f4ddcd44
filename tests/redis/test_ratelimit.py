"""RedisRateLimiter: a global GCRA bucket on Redis's clock."""

from __future__ import annotations

import multiprocessing
import time
from datetime import timedelta

import pytest
import redis

from plugins.errors import ConfigError
from plugins.webapi import RateLimiterConfig
from scheduler._backend import RedisRateLimiter
from tests.helpers import RedisServer, wait_for
from tests.redis import workers


def test_burst_then_refusal(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, "rl:burst", qps=0.001, burst=3)
    assert [limiter.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_buckets_are_independent_per_key(redis_client: redis.Redis) -> None:
    a = RedisRateLimiter(redis_client, "rl:a", qps=0.001, burst=1)
    b = RedisRateLimiter(redis_client, "rl:b", qps=0.001, burst=1)
    assert a.try_acquire() and b.try_acquire()
    assert not a.try_acquire() and not b.try_acquire()


def test_instances_share_one_bucket(redis_client: redis.Redis, redis_server: RedisServer) -> None:
    other_client = redis_server.client()
    first = RedisRateLimiter(redis_client, "rl:shared", qps=0.001, burst=2)
    second = RedisRateLimiter(other_client, "rl:shared", qps=0.001, burst=2)
    assert first.try_acquire() and second.try_acquire()
    assert not first.try_acquire() and not second.try_acquire()
    other_client.close()


def test_acquire_sleeps_only_as_long_as_needed(redis_client: redis.Redis) -> None:
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        time.sleep(seconds)

    limiter = RedisRateLimiter(redis_client, "rl:wait", qps=20, burst=1, sleep=fake_sleep)
    assert limiter.acquire()  # the burst: no wait
    assert sleeps == []
    assert limiter.acquire(timeout=5)
    # One call every 50 ms: the wait asked of Redis is positive and at most one interval.
    assert sleeps and all(0 < s <= 0.05 for s in sleeps)


def test_acquire_gives_up_at_once_when_the_wait_exceeds_the_timeout(
    redis_client: redis.Redis,
) -> None:
    sleeps: list[float] = []
    limiter = RedisRateLimiter(redis_client, "rl:timeout", qps=0.01, burst=1, sleep=sleeps.append)
    assert limiter.acquire(timeout=0)
    assert limiter.acquire(timeout=timedelta(seconds=1)) is False
    assert limiter.acquire(timeout=0) is False
    assert sleeps == []  # never slept for nothing


def test_idle_bucket_key_expires(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, "rl:ttl", qps=100, burst=5)
    assert limiter.try_acquire()
    ttl_ms = redis_client.pttl("rl:ttl")
    assert 0 < ttl_ms <= 2000


def test_config_validation(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="qps"):
        RedisRateLimiter(redis_client, "k", qps=0, burst=1)
    with pytest.raises(ConfigError, match="burst"):
        RedisRateLimiter(redis_client, "k", qps=1, burst=0)
    limiter = RedisRateLimiter.from_config(redis_client, "k", RateLimiterConfig(qps=7, burst=70))
    assert (limiter.qps, limiter.burst) == (7, 70)


def test_four_processes_share_qps_50_burst_10(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    qps, burst, duration = 50.0, 10, 5.0
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=workers.limiter_hammer,
            args=(redis_server.url, "rl:shared4", qps, burst, duration),
        )
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    # Every process has imported everything and waits: then they start together.
    wait_for(lambda: int(redis_client.get("rl:shared4:ready") or 0) == 4, timeout=120)
    redis_client.set("rl:shared4:start", time.time() + 0.2)
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    taken = int(redis_client.get("rl:shared4:taken") or 0)
    sustained = taken - burst
    # Within ±10% of 50/s over 5 s, plus the burst.
    assert 0.9 * qps * duration <= sustained <= 1.1 * qps * duration, taken
