"""Functions run in child processes by the Redis tests (importable, so 'spawn' can run them)."""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta

import redis

from plugins.core import AllocationStatus, ResourceConstraint, ResourceConstraintsSpec
from scheduler._backend import RedisRateLimiter, RedisResourceManager

QUOTA_NS = "cc"
QUOTA = 5
PROJECT_CAP = 3
DOMAIN_CAP = 2
# Eight workers arranged so that every limit binds: 8 > quota 5; "flyte" can reach 4 > its
# cap of 3; (flyte, dev) has 3 workers > the domain cap of 2. The names are prefixes of
# each other, so a prefix-matching manager would over-count.
ASSIGNMENT = (
    [("flyte", "dev")] * 3
    + [("flyte", "development")] * 2
    + [("flytesnacks", "dev")] * 2
    + [("flytesnacks", "development")]
)
WORKERS = len(ASSIGNMENT)


def quota_churn(url: str, worker: int, iterations: int) -> None:
    """Allocate and release repeatedly, counting holders on the Redis side.

    The counters are incremented after a grant and decremented before the release,
    so at any instant each counter is at most the true number of holders. A counter
    above its cap therefore proves the manager over-granted.
    """
    client = redis.Redis.from_url(url)
    rm = RedisResourceManager(client, lease=timedelta(minutes=5))
    project, domain = ASSIGNMENT[worker]
    # Start together, so that the processes really contend.
    client.incr("cc:ready")
    while not client.exists("cc:go"):
        time.sleep(0.001)
    spec = ResourceConstraintsSpec(ResourceConstraint(PROJECT_CAP), ResourceConstraint(DOMAIN_CAP))
    rng = random.Random(worker)
    counters = ("cc:count:all", f"cc:count:p:{project}", f"cc:count:d:{project}:{domain}")
    caps = (QUOTA, PROJECT_CAP, DOMAIN_CAP)
    for i in range(iterations):
        token = f"w{worker}-t{i}"
        status = rm.allocate_resource(QUOTA_NS, token, spec, project=project, domain=domain)
        if status is not AllocationStatus.GRANTED:
            time.sleep(rng.uniform(0, 0.002))
            continue
        pipe = client.pipeline()
        for key in counters:
            pipe.incr(key)
        values = pipe.execute()
        for key, value, cap in zip(counters, values, caps, strict=True):
            client.hset("cc:max", key, max(int(client.hget("cc:max", key) or 0), int(value)))
            if int(value) > cap:
                client.rpush("cc:violations", f"{key}={value}>{cap}")
        time.sleep(rng.uniform(0.002, 0.008))
        pipe = client.pipeline()
        for key in counters:
            pipe.decr(key)
        pipe.execute()
        rm.release_resource(QUOTA_NS, token)
    client.close()


def hold_token_forever(url: str, namespace: str, lease_seconds: float) -> None:
    """Take a token with a short lease, say so, and hang until killed."""
    client = redis.Redis.from_url(url)
    rm = RedisResourceManager(client, lease=timedelta(seconds=lease_seconds))
    status = rm.allocate_resource(namespace, "doomed", None, project="p", domain="d")
    client.set("holder:status", status.value)
    client.set("holder:pid", os.getpid())
    while True:
        time.sleep(1)


def limiter_hammer(url: str, key: str, qps: float, burst: int, duration: float) -> None:
    """Acquire from a shared limiter as fast as it allows during [start, start + duration).

    The process says it is ready (``<key>:ready``) and waits for the parent to set
    ``<key>:start`` once every process is ready, so a slow start (spawn, imports, a
    loaded machine) cannot shorten its window.
    """
    client = redis.Redis.from_url(url)
    limiter = RedisRateLimiter(client, key, qps=qps, burst=burst)
    client.incr(f"{key}:ready")
    while (raw := client.get(f"{key}:start")) is None:
        time.sleep(0.01)
    start = float(raw)
    time.sleep(max(0.0, start - time.time()))
    end = start + duration
    taken = 0
    while True:
        remaining = end - time.time()
        if remaining <= 0:
            break
        if limiter.acquire(timeout=remaining) and time.time() < end:
            taken += 1
    client.incrby(f"{key}:taken", taken)
    client.close()


def cas_racer(url: str, racer: int, rounds: int) -> None:
    """Each round: read the record, wait for the other racer, then try to move it on."""
    from dataclasses import replace

    from plugins.core import Phase
    from scheduler._backend import ExecutionStore

    client = redis.Redis.from_url(url)
    store = ExecutionStore(client)
    for n in range(rounds):
        # Both racers read the same version before either writes.
        while int(client.get("race:round") or 0) != n:
            time.sleep(0.0005)
        current = store.get("p/d/race")
        assert current is not None
        client.incr(f"race:read:{n}")
        while int(client.get(f"race:read:{n}") or 0) < 2:
            time.sleep(0.0005)
        new = replace(
            current,
            phase=Phase.RUNNING,
            phase_version=current.phase_version + 1,
            reason=f"racer {racer} round {n}",
        )
        if store.transition(current, new) is not None:
            client.rpush("race:winners", f"{n}:{racer}")
        if client.incr(f"race:done:{n}") == 2:
            client.set("race:round", n + 1)
    client.close()
