"""The shard tests: a real local Redis Cluster (three masters, a replica each), four shards.

The engine tests' fixtures are used here with the cluster in place of the single Redis:
``redis_server`` names the cluster and ``redis_client`` is redis-py's cluster client, so
the same Harness, plugins and remote service run every store script on the cluster. The
Celery broker is the session's single Redis: kombu cannot use a Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from scheduler._backend import connect
from tests.cluster import RedisCluster
from tests.engine.conftest import core_calls, harness_factory, service
from tests.helpers import RedisServer
from tests.integration.conftest import job_service, ledger

__all__ = ["cluster", "core_calls", "harness_factory", "job_service", "ledger", "service"]

SHARDS = 4


def started_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A local cluster: three masters, a replica each."""
    started = RedisCluster.start(tmp_path_factory.mktemp("cluster"))
    try:
        yield started
    finally:
        started.stop()


cluster = pytest.fixture(started_cluster, scope="session")


@dataclass
class ClusterServer:
    """What the engine fixtures take from ``redis_server``: the cluster's URL."""

    url: str


@pytest.fixture
def redis_server(cluster: RedisCluster) -> ClusterServer:
    return ClusterServer(cluster.url)


@pytest.fixture
def redis_client(cluster: RedisCluster) -> Iterator[redis.Redis]:
    client = connect(cluster.url, socket_timeout=5)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A single Redis for Celery's messages."""
    with RedisServer.start(tmp_path_factory.mktemp("broker")) as server:
        yield server


@pytest.fixture(autouse=True)
def sharded(monkeypatch: pytest.MonkeyPatch, broker: RedisServer) -> None:
    """Every deployment made here has four shards, and its broker on the single Redis."""
    monkeypatch.setenv("FLYTE_CELERY_SHARDS", str(SHARDS))
    monkeypatch.setenv("FLYTE_CELERY_BROKER_URL", broker.url)
