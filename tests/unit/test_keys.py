"""scheduler.backend.keys: every key name in one place, unchanged from earlier releases.

Deployments upgrade in place, so a key name is a storage format: these pins fail if
a name changes by accident.
"""

from __future__ import annotations

from scheduler.backend import Keys
from scheduler.backend.keys import quota_key, quota_namespaces_key


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
