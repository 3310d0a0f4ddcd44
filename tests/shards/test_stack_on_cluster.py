"""Real processes on a real Redis Cluster: a worker, two beats sharing four shards.

The beats split the shards' leadership; when one is killed the other leads every shard
within a lease and a tick, and nothing is lost. A master killed while executions are in
flight is replaced by its replica: every execution ends, each remote job is created once,
and the quota (two jobs at once, for executions of every shard) holds throughout.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.core import Phase
from tests.cluster import RedisCluster
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template
from tests.shards.conftest import SHARDS, started_cluster


@pytest.fixture
def stack(cluster: RedisCluster, job_service: JobService, tmp_path: Path) -> Iterator[Stack]:
    deployment = Stack(cluster.url, tmp_path, job_service.url)
    try:
        yield deployment
    finally:
        deployment.stop()


def leaders(stack: Stack) -> list[int | None]:
    """The pid of the beat that leads each shard (None: nobody)."""
    runtime = stack.client().runtime
    found = []
    for keys in runtime.shards.keys:
        value = runtime.redis.get(keys.leader)
        found.append(None if value is None else int(value.decode().split(":")[1]))
    return found


def split_between(stack: Stack, *names: str) -> bool:
    pids = [stack.processes[name].pid for name in names]
    led = leaders(stack)
    return all(led.count(pid) == SHARDS // len(pids) for pid in pids)


def test_two_beats_share_the_shards_and_one_leads_them_all_when_the_other_dies(
    stack: Stack, ledger: Ledger
) -> None:
    stack.start_worker("w1")
    stack.start_beat("b1")
    stack.start_beat("b2")
    wait_for(lambda: split_between(stack, "b1", "b2"), timeout=60, what="two shards a beat")
    client = stack.client()
    first = [client.submit(template("http_job"), seconds(0)) for _ in range(16)]
    wait_all(first, timeout=180)
    assert {e.refresh().phase for e in first} == {Phase.SUCCESS}
    assert {stack.client().runtime.shards.shard(e.id) for e in first} == set(range(SHARDS))
    assert ledger.max_running <= 2  # the quota, held across the shards and both beats

    stack.kill("b1", signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: split_between(stack, "b2"), timeout=60, what="b2 to lead every shard")
    took = time.monotonic() - killed
    lease = stack.settings.leader_lease.total_seconds()
    print(f"\nb2 led every shard {took:.1f} s after b1 died (lease {lease:g} s)")
    second = [client.submit(template("http_job"), seconds(0)) for _ in range(16)]
    wait_all(second, timeout=180)
    assert {e.refresh().phase for e in second} == {Phase.SUCCESS}
    assert len(ledger.jobs) == 32 and set(ledger.create_requests.values()) == {1}
    assert ledger.max_running <= 2


own_cluster = pytest.fixture(started_cluster)  # a cluster of this test's own: it loses a master


def test_a_master_killed_with_executions_in_flight_loses_nothing(
    own_cluster: RedisCluster, job_service: JobService, ledger: Ledger, tmp_path: Path
) -> None:
    stack = Stack(own_cluster.url, tmp_path, job_service.url)
    try:
        stack.start_worker("w1")
        stack.start_beat("b1")
        stack.start_beat("b2")
        client = stack.client()
        ledger.auto_finish = 6.0  # each remote job runs six seconds
        executions = [client.submit(template("http_job_capped"), seconds(0)) for _ in range(40)]
        wait_for(lambda: ledger.running() >= 3, timeout=60, what="jobs running")
        runtime = client.runtime
        victim = runtime.shards.keys[1].index("all")  # shard 1's master
        running, waiting = (
            ledger.running(),
            sum(not e.refresh().record.finished for e in executions),
        )
        port = own_cluster.fail_over(victim)
        print(f"\nkilled master {port}: {running} jobs running, {waiting} executions open")
        assert running >= 3
        wait_all(executions, timeout=240)
        assert [e.refresh().phase for e in executions] == [Phase.SUCCESS] * 40
        assert len(ledger.jobs) == 40  # one remote job each: no Create ran twice
        assert set(ledger.create_requests.values()) == {1}
        assert ledger.max_running <= 6
        assert all(alive for alive in stack.alive().values())
        wait_for(
            lambda: runtime.quotas.metrics("http-job-capped:default").held == 0,
            timeout=60,
            what="every token released",
        )
    finally:
        stack.stop()
