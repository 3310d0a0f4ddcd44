"""Fixtures: a real HTTP job service, real worker and beat processes, Redis or RabbitMQ."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
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


AMQP = os.environ.get("FLYTE_CELERY_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672")


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A private RabbitMQ vhost for the session, on the machine's RabbitMQ; deleted after."""
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is not installed; tests/run.sh installs rabbitmq-server")
    vhost = f"flyte-celery-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(
        [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    try:
        yield f"{AMQP}/{vhost}"
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], check=False, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def broker(request: pytest.FixtureRequest) -> str | None:
    """The broker a module's stack uses: its Redis (the default), or RabbitMQ.

    A module runs on both with
    ``pytestmark = pytest.mark.parametrize("broker", BROKERS, indirect=True, scope="module")``.
    """
    kind = getattr(request, "param", "redis")
    if kind == "redis":
        return None
    url: str = request.getfixturevalue("rabbitmq_url")
    return url


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer,
    job_service: JobService,
    tmp_path_factory: pytest.TempPathFactory,
    broker: str | None,
) -> Iterator[Stack]:
    """Two worker processes (two pool children each) and one beat, for a test module."""
    overrides = {} if broker is None else {"broker_url": broker}
    deployment = Stack(
        redis_server.url, tmp_path_factory.mktemp("stack"), job_service.url, overrides=overrides
    )
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


@pytest.fixture
def one_slot(redis_server: RedisServer, tmp_path: object) -> Iterator[Stack]:
    """One worker with a single pool process, and beat: a task that kept running would
    block the next, and repeated calls share the process (and its event loop)."""
    from pathlib import Path

    with Stack(redis_server.url, Path(str(tmp_path)), "http://127.0.0.1:9").one_worker() as stack:
        yield stack


BROKERS = ["redis", "rabbitmq"]
"""The brokers a module parametrizes ``broker`` over to run on each."""
