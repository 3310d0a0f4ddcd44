"""Naming a Redis Cluster in the settings: its URL forms, and the broker it cannot be."""

from __future__ import annotations

import pytest
import redis

from plugins.errors import ConfigError
from scheduler import Settings
from scheduler._backend import connect
from scheduler.settings import is_cluster_url


@pytest.mark.parametrize(
    ("url", "cluster"),
    [
        ("redis://127.0.0.1:6379/0", False),
        ("rediss://:pw@db:6380/0", False),
        ("unix:///run/redis.sock", False),
        ("redis+cluster://10.0.0.1:7000", True),
        ("rediss+cluster://user:pw@10.0.0.1:7000", True),
        ("redis://:pw@10.0.0.1:7000,10.0.0.2:7000", True),
    ],
)
def test_a_cluster_is_named_by_its_scheme_or_several_nodes(url: str, cluster: bool) -> None:
    assert is_cluster_url(url) is cluster


def test_a_cluster_cannot_be_the_broker() -> None:
    with pytest.raises(ConfigError, match="FLYTE_CELERY_REDIS_URL names a Redis Cluster"):
        Settings.load(redis_url="redis+cluster://127.0.0.1:7000")
    with pytest.raises(ConfigError, match="FLYTE_CELERY_BROKER_URL names a Redis Cluster"):
        Settings.load(redis_url="redis://db:6379/0", broker_url="redis://a:1,b:2")
    settings = Settings.load(redis_url="redis+cluster://a:7000", broker_url="amqp://mq//")
    assert settings.broker == "amqp://mq//"


def test_shards_are_a_positive_count() -> None:
    assert Settings.load().shards == 1
    assert Settings.load(shards=16).shards == 16
    with pytest.raises(ConfigError, match="FLYTE_CELERY_SHARDS"):
        Settings.load(shards=0)


def test_a_cluster_url_makes_a_cluster_client_of_its_nodes() -> None:
    # No node answers here: the client is made lazily, so only its parsing shows.
    with pytest.raises(ConfigError, match="only database 0"):
        connect("redis+cluster://127.0.0.1:1/3")
    with pytest.raises(ConfigError, match="host:port"):
        connect("redis+cluster://127.0.0.1:x")
    # Made on first use: a process starts while the cluster is away, and waits for it.
    client = connect("redis+cluster://127.0.0.1:1,127.0.0.1:2", socket_connect_timeout=0.2)
    with pytest.raises(redis.ConnectionError, match="cannot be connected"):
        client.ping()


def test_a_key_prefix_with_a_brace_is_refused() -> None:
    # The prefix goes inside the shards' hash tags: a brace would split a shard over slots.
    with pytest.raises(ConfigError, match=r"FLYTE_CELERY_KEY_PREFIX: .*must not contain"):
        Settings.load(key_prefix="team{a}")
