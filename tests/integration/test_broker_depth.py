"""The scheduler counts a queue's waiting jobs on the real broker: Redis and RabbitMQ."""

from __future__ import annotations

import uuid

import pytest
from celery import Celery

from scheduler._engine.backpressure import BrokerDepth
from tests.helpers import RedisServer, wait_for


@pytest.fixture(params=["redis", "rabbitmq"])
def broker_url(request: pytest.FixtureRequest, redis_server: RedisServer) -> str:
    if request.param == "redis":
        return redis_server.url
    url: str = request.getfixturevalue("rabbitmq_url")
    return url


def test_the_depth_counts_jobs_no_worker_took(broker_url: str) -> None:
    app = Celery("depth-test", broker=broker_url)
    queue = f"flyte-celery.depth-{uuid.uuid4().hex[:8]}"
    depth = BrokerDepth(app.connection_for_read)
    try:
        assert depth(queue) == 0  # no such queue yet
        for n in range(5):
            app.send_task("flyte_celery.do", args=[n], queue=queue)
        # RabbitMQ counts a publish a moment later (publishes are not confirmed).
        wait_for(lambda: depth(queue) == 5, timeout=30, what="5 jobs counted")
        assert depth(f"{queue}-other") == 0
        with app.connection_for_write() as connection:
            message = connection.SimpleQueue(queue).get(timeout=10)
            message.ack()
        wait_for(lambda: depth(queue) == 4, timeout=30, what="4 jobs counted")
        assert depth(queue) == 4
    finally:
        depth.close()
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
