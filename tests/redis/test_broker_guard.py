"""The worker's guard for kombu's lost-connection bug, against a real Redis broker."""

from __future__ import annotations

import pytest
import redis
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from worker.broker import guard_lost_connection


def _after_a_lost_connection(url: str) -> tuple[Connection, object, object]:
    """A channel with an unacknowledged message, as a lost connection leaves it."""
    conn = Connection(url)
    channel = conn.default_channel
    queue = Queue("guard-test", Exchange("guard-test"), "guard-test", channel=channel)
    queue.declare()
    conn.Producer(serializer="json").publish(
        {"n": 1}, exchange=queue.exchange, routing_key="guard-test", declare=[queue]
    )
    message = queue.get(no_ack=False)
    assert message is not None
    # What Celery's close of the broken connection leaves: no pool, no parameters.
    channel._pool = None  # type: ignore[attr-defined]
    channel.connection.client = None  # type: ignore[attr-defined]
    return conn, channel, message


def test_a_lost_connection_is_a_connection_error_that_celery_recovers_from(redis_server) -> None:
    guard_lost_connection()
    guard_lost_connection()  # idempotent
    conn, channel, message = _after_a_lost_connection(redis_server.url)
    recoverable = conn.connection_errors
    assert redis.ConnectionError in recoverable  # what Celery reconnects on
    with pytest.raises(recoverable, match="broker connection was closed"):
        channel.qos.restore_unacked()  # type: ignore[attr-defined]  # closing the channel
    with pytest.raises(recoverable, match="broker connection was closed"):
        message.ack()  # type: ignore[attr-defined]  # a job finishing after the loss
    channel.qos._delivered.clear()  # type: ignore[attr-defined]  # nothing left for teardown


def test_without_the_guard_kombu_raises_attribute_error(
    redis_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bug the guard is for: if kombu fixes it, this test says the guard can go.
    original = kombu_redis.Channel._connparams
    monkeypatch.setattr(
        kombu_redis.Channel, "_connparams", getattr(original, "__wrapped__", original)
    )
    _, channel, message = _after_a_lost_connection(redis_server.url)
    with pytest.raises(AttributeError):
        channel.qos.restore_unacked()  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        message.ack()  # type: ignore[attr-defined]
    channel.qos._delivered.clear()  # type: ignore[attr-defined]
