"""A shard's slot moved to another master while its executions are in flight (a reshard).

Half the slot's keys move first: a read of a moved record is answered ASK and followed
there, and a script whose keys are split between the two nodes is refused (TRYAGAIN) and
tried again at a later tick. Once the slot is the other master's, every client meets MOVED
once, learns the new owner, and the executions end as if nothing happened.
"""

from __future__ import annotations

import pytest

from plugins.core import Phase
from tests.cluster import RedisCluster
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.shards.conftest import started_cluster

cluster = pytest.fixture(started_cluster, scope="module")  # this module's own: slots move


def test_a_shard_moved_to_another_master_in_flight_loses_nothing(
    harness_factory, cluster: RedisCluster
) -> None:
    h: Harness = harness_factory()
    executions = [h.client.submit(template("remote"), ints(x=i)) for i in range(24)]
    h.drain()
    assert {e.refresh().phase for e in executions} == {Phase.RUNNING}
    moving = [e for e in executions if h.runtime.shards.shard(e.id) == 1]
    assert moving
    slot_key = h.runtime.shards.keys[1].index("all")
    before = cluster.master_of(slot_key)

    def halfway() -> None:
        # Some of the shard's keys are on each node: single-key reads follow ASK.
        assert {h.client.get(e.id).phase for e in moving} == {Phase.RUNNING}
        h.tick()  # a script across the split keys is refused; the engine goes on

    after = cluster.move_slot(slot_key, halfway)
    assert after != before and cluster.master_of(slot_key) == after
    h.succeed_jobs(executions, at_once=24)
    assert [e.refresh().phase for e in executions] == [Phase.SUCCESS] * 24
    assert sorted(h.service.creates.values()) == [1] * 24  # no Create ran twice
    assert h.client.page(None, None, 100)[0][0].id in {e.id for e in executions}
