"""Executions spread over four shards on a real Redis Cluster, read back as from one store.

Each shard's keys share a hash tag, so the shards' records sit on several masters; the
listing pages, the counts and the quota span the shards exactly as one shard would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugins.core import Phase
from plugins.errors import ConfigError
from scheduler import Client, Settings
from scheduler._backend import ApiTokens
from scheduler._backend.shards import cursor_of
from scheduler._model import ExecutionFilter
from scheduler._model.access import parse_grants
from tests.cluster import RedisCluster
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.shards.conftest import SHARDS


def test_records_spread_over_the_shards_and_the_masters(
    harness_factory, cluster: RedisCluster
) -> None:
    h: Harness = harness_factory()
    executions = [h.client.submit(template("echo"), ints(x=i)) for i in range(40)]
    shards = {h.runtime.shards.shard(e.id) for e in executions}
    assert shards == set(range(SHARDS))
    keys = [h.runtime.shards.of(e.id).record(e.id) for e in executions]
    assert len({cluster.master_of(key) for key in keys}) >= 2
    h.drain()
    assert all(e.refresh().phase is Phase.SUCCESS for e in executions)
    # Each shard's scheduler did its own executions' work, from its own indexes.
    assert all(engine.leads for engine in h.engines)
    assert sum(c.count for c in h.client.phase_counts() if c.phase is Phase.SUCCESS) == 40


def test_pages_across_shards_come_in_one_order_without_gaps_or_repeats(harness_factory) -> None:
    h: Harness = harness_factory()
    submitted = []
    for i in range(45):
        if i % 4 == 0:  # several executions share each submission instant
            h.advance(timedelta(milliseconds=1))
        submitted.append(h.client.submit(template("echo" if i % 3 else "remote"), ints(x=i)))
    h.drain()
    expected = sorted(
        (e.refresh().record for e in submitted),
        key=lambda r: (cursor_of(r).score, r.id),
        reverse=True,
    )
    for limit in (1, 7, 45, 100):
        seen, after = [], None
        while True:
            page, after = h.client.page(None, after, limit)
            seen += [e.id for e in page]
            if after is None:
                break
        assert seen == [r.id for r in expected], limit
    running = ExecutionFilter(phase=Phase.RUNNING)
    seen, after = [], None
    while True:  # a filter with a scan bound: short pages, but every match once, in order
        page, after = h.client.page(running, after, 4, scan=5)
        seen += [e.id for e in page]
        if after is None:
            break
    assert seen == [r.id for r in expected if r.phase is Phase.RUNNING] and len(seen) == 15
    assert [e.id for e in h.client.list(limit=10)] == [r.id for r in expected[:10]]
    assert h.runtime.store.totals.count() == 45


def test_a_quota_is_held_exactly_by_executions_of_every_shard(harness_factory) -> None:
    h: Harness = harness_factory(quota=3)
    executions = [h.client.submit(template("remote"), ints(x=i)) for i in range(16)]
    assert len({h.runtime.shards.shard(e.id) for e in executions}) == SHARDS
    h.drain()
    assert h.service.running() == 3
    h.succeed_jobs(executions, at_once=3)  # the remote service never ran more than 3
    assert all(e.phase is Phase.SUCCESS for e in executions)
    metrics = h.runtime.quotas.metrics("remote:default")
    assert metrics.held == 0 and metrics.grants == 16 and metrics.releases == 16
    assert len(h.service.creates) == 16


def test_one_node_named_as_a_single_redis_is_refused_by_name(cluster: RedisCluster) -> None:
    node = cluster.startup_nodes[0].port
    client = Client(settings=Settings.load(redis_url=f"redis://127.0.0.1:{node}/0"))
    try:
        with pytest.raises(ConfigError, match=r"one node of a Redis Cluster.*redis\+cluster://"):
            client.list()  # the shards' indexes sit on every master: some answer MOVED
    finally:
        client.close()


def test_done_messages_and_api_tokens_work_on_the_cluster(harness_factory) -> None:
    h: Harness = harness_factory()
    execution = h.client.submit(template("echo"), ints(x=1))
    with h.runtime.done.watch(execution.id) as watch:
        assert watch.subscribed  # on the cluster's pub/sub, whichever node the channel hashes to
        h.drain()
        assert watch.wait(timedelta(seconds=10))
    tokens = ApiTokens(h.runtime.redis, h.runtime.keys)
    token, _ = tokens.create("probe", parse_grants(["viewer@*"]), h.now)
    assert tokens.lookup(token) is not None and [t.name for t in tokens.list()] == ["probe"]
    assert tokens.revoke("probe") and tokens.lookup(token) is None and tokens.list() == []
