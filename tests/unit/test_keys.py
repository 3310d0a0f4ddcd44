"""scheduler._backend.keys: every key name in one place, unchanged from earlier releases.

Deployments upgrade in place, so a key name is a storage format: these pins fail if
a name changes by accident.
"""

from __future__ import annotations

import pytest

from scheduler._backend import Keys
from scheduler._backend.keys import quota_key, quota_namespaces_key, shard_of


def test_store_and_cache_keys_share_one_hash_tag() -> None:
    keys = Keys("fc")
    assert keys.record("p/d/n") == "{fc}:exec:p/d/n"
    assert keys.events("p/d/n") == "{fc}:events:p/d/n"
    assert keys.index("pending") == "{fc}:pending"
    assert keys.waiting("echo:default") == "{fc}:waiting:echo:default"
    assert keys.waiting(None) == "{fc}:waiting:-"
    assert keys.cache_entry("ab12") == "{fc}:cache:entry:ab12"
    assert keys.cache_reservations == "{fc}:cache:reservations"


def test_process_keys_and_quota_keys() -> None:
    keys = Keys("fc")
    assert keys.leader == "fc:leader"
    assert keys.tokens == "fc:tokens"
    assert keys.wake == "fc:wake"
    assert keys.limiter("bigquery", "read") == "fc:limit:bigquery:read"
    assert keys.quota_prefix == "fc:rm"
    assert quota_key(keys.quota_prefix, "bq:us", "holders") == "fc:rm:{bq:us}:holders"
    assert quota_namespaces_key(keys.quota_prefix) == "fc:rm:namespaces"


def test_shard_zero_keeps_the_names_and_other_shards_have_their_own_store_and_lease() -> None:
    assert Keys("fc", 0) == Keys("fc")
    three = Keys("fc", 3)
    assert three.record("p/d/n") == "{fc#3}:exec:p/d/n"
    assert three.index("due") == "{fc#3}:due" and three.runs == "{fc#3}:runs"
    assert (three.leader, three.wake) == ("fc:leader#3", "{fc:wake}#3")
    # Shared by every shard: the cache, quotas, token owners, limiters, served task types.
    assert three.tokens == "fc:tokens" and three.beats == "fc:beats"
    assert three.cache_entry("ab") == Keys("fc").cache_entry("ab")
    assert three.quota_prefix == "fc:rm" and three.served == "fc:served"
    assert three.limiter("bq", "read") == "fc:limit:bq:read"


def test_executions_spread_over_shards_and_always_land_on_the_same_one() -> None:
    ids = [f"p/d/n{i}" for i in range(4000)]
    counts = [0] * 4
    for execution_id in ids:
        counts[shard_of(execution_id, 4)] += 1
    assert all(800 < c < 1200 for c in counts), counts
    assert [shard_of(i, 4) for i in ids[:50]] == [shard_of(i, 4) for i in ids[:50]]
    assert {shard_of(i, 1) for i in ids} == {0}
    with pytest.raises(ValueError, match="shards"):
        shard_of("p/d/n", 0)
