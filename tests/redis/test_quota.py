"""RedisResourceManager against a real redis-server."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import timedelta

import pytest
import redis

from plugins.core import (
    AllocationStatus,
    ResourceConstraint,
    ResourceConstraintsSpec,
    ResourceManager,
    ResourceRegistrar,
)
from plugins.errors import ConfigError
from scheduler._backend import RedisResourceManager
from tests.helpers import RedisServer, wait_for
from tests.redis import workers

GRANTED = AllocationStatus.GRANTED
EXHAUSTED = AllocationStatus.EXHAUSTED
CAPPED = AllocationStatus.NAMESPACE_QUOTA_EXCEEDED


@pytest.fixture
def rm(redis_client: redis.Redis) -> RedisResourceManager:
    return RedisResourceManager(redis_client, lease=timedelta(minutes=5))


def alloc(
    rm: RedisResourceManager,
    ns: str,
    token: str,
    spec: ResourceConstraintsSpec | None = None,
    *,
    project: str = "p",
    domain: str = "d",
) -> AllocationStatus:
    return rm.allocate_resource(ns, token, spec, project=project, domain=domain)


def test_implements_the_core_protocols(rm: RedisResourceManager) -> None:
    assert isinstance(rm, ResourceManager)
    assert isinstance(rm, ResourceRegistrar)
    assert rm.get_id() == "redisresourcemanager"


@pytest.mark.parametrize("quota", [0, -1, 1001, 2.5, True])
def test_quota_must_be_in_range(rm: RedisResourceManager, quota: object) -> None:
    with pytest.raises(ConfigError, match=r"\(0, 1000\]"):
        rm.register_resource_quota("ns", quota)  # type: ignore[arg-type]


def test_registration_is_shared_and_conflicts_are_clear(redis_client: redis.Redis) -> None:
    first = RedisResourceManager(redis_client)
    second = RedisResourceManager(redis_client)
    first.register_resource_quota("ns", 3)
    second.register_resource_quota("ns", 3)  # same quota again: fine
    assert second.quota("ns") == 3
    assert second.namespaces() == ["ns"]
    with pytest.raises(ConfigError, match="already registered with quota 3, not 4"):
        second.register_resource_quota("ns", 4)
    second.set_resource_quota("ns", 4)
    assert first.quota("ns") == 4


def test_unregistered_namespace_is_a_clear_error(rm: RedisResourceManager) -> None:
    with pytest.raises(ConfigError, match="'nowhere' has no registered quota"):
        alloc(rm, "nowhere", "t")


def test_flyte_cap_enforced_scenario(rm: RedisResourceManager) -> None:
    # Flyte's "cap enforced": quota 3, one ns1 token held, ns1 capped at 1.
    rm.register_resource_quota("ns", 3)
    spec = ResourceConstraintsSpec(project_scope=ResourceConstraint(1))
    assert alloc(rm, "ns", "ns1-token1", spec, project="ns1") is GRANTED
    assert alloc(rm, "ns", "ns1-token2", spec, project="ns1") is CAPPED
    assert alloc(rm, "ns", "ns2-token1", project="ns2") is GRANTED


def test_flyte_cap_not_enforced_scenario(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 4)
    for i in range(1, 4):
        assert alloc(rm, "ns", f"ns1-token{i}", project="ns1") is GRANTED
    assert alloc(rm, "ns", "ns1-token4", project="ns1") is GRANTED


def test_flyte_resource_exhausted_scenario(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 4)
    for i in range(4):
        assert alloc(rm, "ns", f"t{i}", project="ns1") is GRANTED
    spec = ResourceConstraintsSpec(ResourceConstraint(100), ResourceConstraint(100))
    assert alloc(rm, "ns", "ns1-x", spec, project="ns1") is EXHAUSTED
    assert alloc(rm, "ns", "ns2-x", project="ns2") is EXHAUSTED


def test_held_tokens_are_granted_again(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 1)
    assert alloc(rm, "ns", "a") is GRANTED
    assert alloc(rm, "ns", "a") is GRANTED
    assert rm.holders("ns") == ["a"]
    assert rm.metrics("ns").grants == 1


def test_no_prefix_collisions(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 10)
    project_cap = ResourceConstraintsSpec(project_scope=ResourceConstraint(1))
    domain_cap = ResourceConstraintsSpec(namespace_scope=ResourceConstraint(1))
    assert alloc(rm, "ns", "a", project_cap, project="flytesnacks") is GRANTED
    assert alloc(rm, "ns", "b", project_cap, project="flyte") is GRANTED
    assert alloc(rm, "ns", "c", domain_cap, project="x", domain="development") is GRANTED
    assert alloc(rm, "ns", "d", domain_cap, project="x", domain="dev") is GRANTED
    assert alloc(rm, "ns", "e", domain_cap, project="x", domain="dev") is CAPPED


def test_domain_cap_counts_project_and_domain(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 10)
    spec = ResourceConstraintsSpec(namespace_scope=ResourceConstraint(1))
    assert alloc(rm, "ns", "a", spec, project="p1", domain="prod") is GRANTED
    assert alloc(rm, "ns", "b", spec, project="p2", domain="prod") is GRANTED
    assert alloc(rm, "ns", "c", spec, project="p1", domain="prod") is CAPPED


def test_release_is_idempotent_and_frees_the_slot(rm: RedisResourceManager) -> None:
    rm.register_resource_quota("ns", 1)
    assert alloc(rm, "ns", "a") is GRANTED
    assert alloc(rm, "ns", "b") is EXHAUSTED
    assert rm.release_resource("ns", "a") is True
    assert rm.release_resource("ns", "a") is False
    assert rm.release_resource("unregistered", "zzz") is False
    assert alloc(rm, "ns", "b") is GRANTED
    metrics = rm.metrics("ns")
    assert (metrics.quota, metrics.held, metrics.grants, metrics.denials, metrics.releases) == (
        1,
        1,
        2,
        1,
        1,
    )


def test_expired_tokens_are_reaped(redis_client: redis.Redis) -> None:
    short = RedisResourceManager(redis_client, lease=timedelta(milliseconds=50))
    short.register_resource_quota("ns", 1)
    assert alloc(short, "ns", "a") is GRANTED
    assert wait_for(lambda: short.reap("ns"), what="the lease to expire") == ["a"]
    assert short.holders("ns") == []
    assert short.metrics("ns").reaps == 1
    assert alloc(short, "ns", "b") is GRANTED
    wait_for(lambda: alloc(short, "ns", "c") is GRANTED, what="allocate to reap 'b'")
    assert short.metrics("ns").reaps == 2


def test_renew_keeps_tokens_alive(redis_client: redis.Redis) -> None:
    rm = RedisResourceManager(redis_client, lease=timedelta(milliseconds=300))
    rm.register_resource_quota("ns", 2)
    assert alloc(rm, "ns", "kept") is GRANTED
    assert alloc(rm, "ns", "dropped") is GRANTED
    assert rm.renew("ns", "kept", "never-held") == 1
    assert rm.renew("ns") == 0

    def only_kept_left() -> bool:
        rm.renew("ns", "kept")
        rm.reap("ns")
        return rm.holders("ns") == ["kept"]

    wait_for(only_kept_left, what="the unrenewed token to be reaped")
    assert rm.metrics("ns").reaps == 1


def test_concurrent_processes_never_exceed_caps(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    rm = RedisResourceManager(redis_client)
    rm.register_resource_quota(workers.QUOTA_NS, workers.QUOTA)
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=workers.quota_churn, args=(redis_server.url, i, 40))
        for i in range(workers.WORKERS)
    ]
    for p in procs:
        p.start()
    wait_for(lambda: int(redis_client.get("cc:ready") or 0) == workers.WORKERS, what="workers")
    redis_client.set("cc:go", 1)
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert redis_client.lrange("cc:violations", 0, -1) == []
    maxima = {k.decode(): int(v) for k, v in redis_client.hgetall("cc:max").items()}
    assert maxima["cc:count:all"] <= workers.QUOTA
    assert all(v <= workers.PROJECT_CAP for k, v in maxima.items() if k.startswith("cc:count:p:"))
    assert all(v <= workers.DOMAIN_CAP for k, v in maxima.items() if k.startswith("cc:count:d:"))
    metrics = rm.metrics(workers.QUOTA_NS)
    assert metrics.held == 0 and rm.holders(workers.QUOTA_NS) == []
    assert metrics.grants == metrics.releases > 0
    assert metrics.denials > 0  # the processes really contended
    counts = redis_client.hvals(f"flyte-celery:rm:{{{workers.QUOTA_NS}}}:projects")
    assert all(int(c) == 0 for c in counts)


def test_a_killed_holder_frees_its_token_within_the_lease(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    rm = RedisResourceManager(redis_client, lease=timedelta(seconds=1))
    rm.register_resource_quota("kill", 1)
    proc = multiprocessing.get_context("spawn").Process(
        target=workers.hold_token_forever, args=(redis_server.url, "kill", 1.0)
    )
    proc.start()
    try:
        wait_for(lambda: redis_client.get("holder:pid"), what="the holder to take its token")
        assert redis_client.get("holder:status") == b"ResourceGranted"
        assert alloc(rm, "kill", "successor") is EXHAUSTED
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        wait_for(lambda: alloc(rm, "kill", "successor") is GRANTED, what="the lease to lapse")
    finally:
        if proc.is_alive():
            proc.kill()
    assert rm.holders("kill") == ["successor"]
    assert rm.metrics("kill").reaps == 1
