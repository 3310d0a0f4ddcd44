"""Run leases on a real Redis: kept by owner, so a job's size costs Redis next to nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis

from scheduler._backend import RunLeases, run_member
from scheduler._backend.keys import Keys
from scheduler._backend.shards import ShardMap
from scheduler._model import Claim, Step

NOW = datetime(2026, 12, 6, tzinfo=UTC)
LEASE = timedelta(seconds=15)


def leases(client: redis.Redis) -> tuple[RunLeases, Keys]:
    shards = ShardMap("fc")
    return RunLeases(client, shards.keys[0], shards), shards.keys[0]


def members(n: int, prefix: str = "p/d/e") -> list[str]:
    return [run_member(f"{prefix}{i}", Claim(Step.GET, 0)) for i in range(n)]


def commands_run(client: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(fields["calls"])
        for name, fields in client.info("commandstats").items()
    }


def test_a_jobs_leases_cost_the_same_few_commands_whatever_its_size(
    redis_client: redis.Redis,
) -> None:
    runs, _ = leases(redis_client)
    runs.drop(members(1), "warm", NOW)  # the script is loaded (a first call is tried twice)
    spent = []
    for size, owner in ((2, "small@w1"), (600, "large@w1")):
        batch = members(size, prefix=owner)
        redis_client.config_resetstat()
        assert runs.take(batch, owner, NOW, LEASE) == [True] * size
        assert runs.start(batch, f"{owner}/p1", NOW, LEASE, reserved_by=owner) == [True] * size
        assert runs.renew(batch, f"{owner}/p1", NOW, LEASE) == [True] * size
        runs.drop(batch, f"{owner}/p1", NOW)
        spent.append(commands_run(redis_client))
    small, large = spent
    assert small == large, "a command per step crept in"
    assert redis_client.hlen(leases(redis_client)[1].run_owners) == 0


def test_more_steps_than_a_lua_call_takes_at_once(redis_client: redis.Redis) -> None:
    runs, keys = leases(redis_client)
    batch = members(2500)  # Lua's unpack is bounded: the script goes in slices
    assert runs.take(batch, "big@w1", NOW, LEASE) == [True] * 2500
    assert redis_client.hlen(keys.run_owners) == 2500
    assert runs.take(batch, "other@w2", NOW, LEASE) == [False] * 2500
    runs.drop(batch, "big@w1", NOW)
    assert redis_client.hlen(keys.run_owners) == 0
    assert redis_client.zcard(keys.runs) == 0 and redis_client.hlen(keys.run_members) == 0


def test_a_lapsed_owner_is_reaped_for_the_steps_it_still_held(redis_client: redis.Redis) -> None:
    runs, keys = leases(redis_client)
    first, second = members(2)
    assert runs.take([first, second], "dies@w1", NOW, LEASE) == [True, True]
    later = NOW + LEASE + timedelta(seconds=1)
    # Its lease lapsed: another job takes one of its steps over (published again).
    assert runs.take([first], "again@w2", later, LEASE) == [True]
    assert runs.expiry(first) == later + LEASE
    reaped = runs.reap(later, 100)
    assert reaped == [("p/d/e1", Claim(Step.GET, 0))], "only what the dead owner still held"
    assert runs.expiry(second) is None
    assert runs.expiry(first) == later + LEASE, "the new owner's lease is left alone"
    assert redis_client.zrange(keys.runs, 0, -1) == [b"again@w2"]
    assert runs.reap(later + LEASE + timedelta(seconds=1), 100) == [("p/d/e0", Claim(Step.GET, 0))]
    assert redis_client.hlen(keys.run_owners) == 0 and redis_client.hlen(keys.run_members) == 0


@pytest.mark.parametrize("main_process", ["renews", "dies"])
def test_a_reservation_its_run_took_over_goes_and_leaves_the_run_alone(
    redis_client: redis.Redis, main_process: str
) -> None:
    runs, keys = leases(redis_client)
    batch = members(3)
    assert runs.take(batch, "task@w1", NOW, LEASE) == [True] * 3  # the job is received
    assert runs.start(batch, "task@w1/p1", NOW, LEASE, reserved_by="task@w1") == [True] * 3
    later = NOW + LEASE + timedelta(seconds=1)
    if main_process == "renews":  # and finds the run holds it all: the reservation goes
        assert runs.renew(batch, "task@w1", NOW, LEASE) == [False] * 3
    assert runs.renew(batch, "task@w1/p1", later - timedelta(seconds=2), LEASE) == [True] * 3
    if main_process == "dies":  # before renewing: its reservation lapses, and is reaped
        assert runs.reap(later, 100) == []
    assert redis_client.zrange(keys.runs, 0, -1) == [b"task@w1/p1"]
    assert redis_client.hkeys(keys.run_members) == [b"task@w1/p1"]
    assert runs.take(batch, "again@w2", later, LEASE) == [False] * 3, "the run goes on"


def test_a_lease_of_the_old_layout_is_reaped_as_its_step(redis_client: redis.Redis) -> None:
    # Before leases were kept by owner, the sorted set scored each step: a deployment
    # upgraded while a step ran (every process stopped, then started again) finds it
    # held until its lease lapses, then published again.
    runs, keys = leases(redis_client)
    (member,) = members(1)
    expiry = NOW + LEASE
    redis_client.zadd(keys.runs, {member: int(expiry.timestamp() * 1000)})
    redis_client.hset(keys.run_owners, member, "old-worker/1:abc")
    assert runs.expiry(member) == expiry
    assert runs.take([member], "new@w1", NOW, LEASE) == [False], "it still runs"
    assert runs.reap(NOW, 100) == []
    assert runs.reap(expiry + timedelta(seconds=1), 100) == [("p/d/e0", Claim(Step.GET, 0))]
    assert redis_client.zcard(keys.runs) == 0 and redis_client.hlen(keys.run_owners) == 0


def test_a_lapsed_lease_of_the_old_layout_taken_over_stays_with_its_new_owner(
    redis_client: redis.Redis,
) -> None:
    runs, keys = leases(redis_client)
    (member,) = members(1)
    redis_client.zadd(keys.runs, {member: int(NOW.timestamp() * 1000)})
    redis_client.hset(keys.run_owners, member, "old-worker/1:abc")
    later = NOW + timedelta(seconds=1)
    assert runs.take([member], "new@w1", later, LEASE) == [True]  # published again, taken
    assert runs.reap(later, 100) == [], "the new owner holds it"
    assert runs.expiry(member) == later + LEASE
    assert redis_client.zrange(keys.runs, 0, -1) == [b"new@w1"]
