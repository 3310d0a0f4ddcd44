"""The engine's flows on a real Redis Cluster with four shards (see conftest).

Each flow runs several executions, so they land on several shards (one Redis Cluster slot
each); the scheduler is one engine per shard, all ticked by the Harness.
"""

from __future__ import annotations

from datetime import timedelta

from plugins.core import Phase
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.shards.conftest import SHARDS


def test_sync_and_web_api_executions_succeed_on_every_shard(harness_factory) -> None:
    h: Harness = harness_factory()
    syncs = [h.client.submit(template("echo"), ints(x=i)) for i in range(12)]
    remotes = [h.client.submit(template("remote"), ints(x=i)) for i in range(12)]
    assert len({h.runtime.shards.shard(e.id) for e in syncs + remotes}) == SHARDS
    h.drain()
    assert all(e.refresh().phase is Phase.SUCCESS for e in syncs)
    assert all(e.refresh().phase is Phase.RUNNING for e in remotes)
    assert sorted(h.service.creates.values()) == [1] * 12  # one Create each
    for name in h.service.jobs:
        h.service.jobs[name] = "SUCCEEDED"
    h.advance(timedelta(seconds=31))
    h.drain()
    for i, execution in enumerate(remotes):
        assert execution.refresh().phase is Phase.SUCCESS
        assert execution.outputs().literals["x"].scalar.primitive.integer == i
    assert [e.phase for e in remotes[0].events()][-1] is Phase.SUCCESS


def test_aborts_and_retries_on_every_shard(harness_factory) -> None:
    h: Harness = harness_factory(quota=2)
    h.service.fail_creates = 1
    executions = [h.client.submit(template("remote", retries=1), ints(x=i)) for i in range(8)]
    h.drain()
    for execution in executions[:4]:
        execution.abort("not needed")
    h.succeed_jobs(executions, at_once=2)
    phases = [e.refresh().phase for e in executions]
    assert phases[:4] == [Phase.ABORTED] * 4 and phases[4:] == [Phase.SUCCESS] * 4
    assert h.runtime.quotas.metrics("remote:default").held == 0
    deleted = [name for name, _ in h.service.deletes if name is not None]
    assert len(deleted) == len(set(deleted))  # a created job is deleted once
