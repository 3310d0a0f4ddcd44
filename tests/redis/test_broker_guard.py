"""The worker's guard for kombu's restore-on-close bug, against a real Redis broker."""

from __future__ import annotations

import logging

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import redis as kombu_redis

from worker.brokerfix import guard_restore_unacked


def _unacked_channel(url: str) -> tuple[Connection, object]:
    conn = Connection(url)
    channel = conn.default_channel
    queue = Queue("guard-test", Exchange("guard-test"), "guard-test", channel=channel)
    queue.declare()
    conn.Producer(serializer="json").publish(
        {"n": 1}, exchange=queue.exchange, routing_key="guard-test", declare=[queue]
    )
    assert queue.get(no_ack=False) is not None
    # What a lost connection leaves behind: no pool, and no connection parameters.
    channel._pool = None  # type: ignore[attr-defined]
    channel.connection.client = None  # type: ignore[attr-defined]
    return conn, channel


def test_restoring_on_a_lost_connection_warns_instead_of_killing_the_worker(
    redis_server, caplog: pytest.LogCaptureFixture
) -> None:
    guard_restore_unacked()
    guard_restore_unacked()  # idempotent
    _, channel = _unacked_channel(redis_server.url)
    with caplog.at_level(logging.WARNING, logger="worker.brokerfix"):
        assert channel.qos.restore_unacked() is None  # type: ignore[attr-defined]
    assert "1 unacknowledged message(s) stay in Redis" in caplog.text
    channel.qos._delivered.clear()  # type: ignore[attr-defined]  # nothing left for teardown


def test_without_the_guard_kombu_raises(redis_server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bug the guard is for: if kombu fixes it, this test says the guard can go.
    original = kombu_redis.QoS.restore_unacked
    monkeypatch.setattr(
        kombu_redis.QoS, "restore_unacked", getattr(original, "__wrapped__", original)
    )
    _, channel = _unacked_channel(redis_server.url)
    with pytest.raises(AttributeError, match="hostname"):
        channel.qos.restore_unacked()  # type: ignore[attr-defined]
    channel.qos._delivered.clear()  # type: ignore[attr-defined]  # nothing left for teardown
