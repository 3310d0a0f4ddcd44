"""Fixtures: a real HTTP job service and real worker and beat processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import RedisServer
from tests.integration.jobservice import JobService
from tests.integration.stack import Stack


@pytest.fixture(scope="module")
def job_service() -> Iterator[JobService]:
    service = JobService()
    yield service
    service.close()


@pytest.fixture
def ledger(job_service: JobService):  # type: ignore[no-untyped-def]
    job_service.ledger.reset()
    return job_service.ledger


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, job_service: JobService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Two worker processes (two pool children each) and one beat, for a test module."""
    deployment = Stack(redis_server.url, tmp_path_factory.mktemp("stack"), job_service.url)
    try:
        deployment.start_worker("w1")
        deployment.start_worker("w2")
        deployment.start_beat("beat")
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture
def fresh_stack(
    redis_server: RedisServer, job_service: JobService, tmp_path: object
) -> Iterator[Stack]:
    """An empty deployment for one test, which starts the processes it needs."""
    from pathlib import Path

    deployment = Stack(redis_server.url, Path(str(tmp_path)), job_service.url)
    try:
        yield deployment
    finally:
        deployment.stop()
