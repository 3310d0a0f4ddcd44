"""Shared fixtures: real storage backends, a private redis-server, hypothesis profiles."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import fsspec
import pytest
import redis
from hypothesis import HealthCheck, settings

from plugins.io import DataStore
from tests.flytekit.hookserver import HookServer
from tests.helpers import RedisServer, start_redis

# Machines here are noisy: never fail a property on timing. CI gets more examples.
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=["file", "memory"])
def store_root(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A fresh, empty storage root on a real fsspec backend (local disk or in-memory)."""
    if request.param == "file":
        yield f"file://{tmp_path}"
        return
    root = f"memory://test-{uuid.uuid4().hex}"
    yield root
    fs = fsspec.filesystem("memory")
    path = root.removeprefix("memory://")
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture
def store() -> DataStore:
    """A DataStore with a small download limit, so size checks are easy to hit."""
    return DataStore(max_download_bytes=64 * 1024)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for the whole session, on a free port, stopped at the end."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the session's redis-server, on an empty database."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def hook() -> Iterator[HookServer]:
    """A local HTTP server that records what webhooks send it."""
    server = HookServer()
    try:
        yield server
    finally:
        server.close()
