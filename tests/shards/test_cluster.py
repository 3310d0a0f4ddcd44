"""The local Redis Cluster the shard tests run on: it forms, serves and fails over.

Three masters with a replica each, real processes. A script runs when its keys share a hash
tag (one slot), and is refused when they do not; a master killed after its writes reached
its replica loses nothing.
"""

from __future__ import annotations

import pytest
import redis

from tests.cluster import RedisCluster


def test_the_cluster_spreads_slots_over_three_masters_with_a_replica_each(
    cluster: RedisCluster,
) -> None:
    with redis.Redis(port=cluster.startup_nodes[0].port) as node:
        ranges = node.execute_command("CLUSTER", "SLOTS")
    masters = {int(entry[2][1]) for entry in ranges}
    replicas = {int(entry[3][1]) for entry in ranges}
    assert len(masters) == 3 and len(replicas) == 3 and not masters & replicas
    assert sum(int(end) - int(start) + 1 for start, end, *_ in ranges) == 16384
    ports = {cluster.master_of(f"key-{i}") for i in range(200)}
    assert ports == masters  # every master holds some slots


def test_a_script_runs_on_one_slot_and_is_refused_across_slots(cluster: RedisCluster) -> None:
    script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('INCR', KEYS[2])"
    with cluster.client() as client:
        run = client.register_script(script)
        assert run(keys=["{shard0}:a", "{shard0}:counter"], args=["x"]) == 1
        assert client.get("{shard0}:a") == b"x"
        # The cluster client refuses it before sending (the server would answer CROSSSLOT).
        with pytest.raises(redis.exceptions.RedisClusterException, match="same key slot"):
            run(keys=["{shard0}:a", "{shard1}:b"], args=["x"])


def test_a_master_killed_after_replication_loses_nothing(cluster: RedisCluster) -> None:
    key = "{failover}:record"
    with cluster.client() as client:
        client.set(key, "v1")
        master = client.get_node_from_key(key)
        assert master is not None
        # Acknowledged by its replica before the master dies.
        assert client.get_redis_connection(master).execute_command("WAIT", 1, 5000) >= 1
    killed = cluster.fail_over(key)
    assert cluster.master_of(key) != killed
    with cluster.client() as client:
        assert client.get(key) == b"v1"
        client.set(key, "v2")
        assert client.get(key) == b"v2"
