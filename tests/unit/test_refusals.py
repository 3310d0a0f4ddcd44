"""Redis refusing writes is told apart from a bug by type: ``MISCONF`` and ``UNBLOCKED`` included.

A real socket speaks Redis's protocol here and refuses every command as a Redis whose
last snapshot failed does (``stop-writes-on-bgsave-error``), which a test cannot make a
real redis-server do without an unwritable disk.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import redis

from scheduler._backend.refusals import WRITES_REFUSED, MisconfError, UnblockedError
from scheduler._steps.durable import REDIS_AWAY
from scheduler.testing import RedisServer
from tests.helpers import free_port, wait_for

MISCONF = (
    b"-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
    b"persist to disk. Commands that may modify the data set are disabled.\r\n"
)


@pytest.fixture
def refusing() -> Iterator[int]:
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                while conn.recv(65536):  # every command, refused
                    conn.sendall(MISCONF)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_a_misconf_reply_raises_its_own_type_which_counts_as_redis_away(refusing: int) -> None:
    client = redis.Redis(port=refusing, socket_timeout=5, retry=None)
    with pytest.raises(MisconfError, match="unable to persist"):
        client.set("key", "value")
    assert MisconfError in WRITES_REFUSED
    assert all(refusal in REDIS_AWAY for refusal in WRITES_REFUSED)


def test_a_primary_turning_replica_ends_a_blocking_pop_with_its_own_type(tmp_path) -> None:
    # What a Celery worker waiting for messages meets first when a failover demotes its
    # Redis: not READONLY, but UNBLOCKED, which must count as Redis away too.
    server = RedisServer.start(tmp_path)
    try:
        waiting = server.client()
        popped: list[BaseException] = []

        def pop() -> None:
            try:
                waiting.brpop(["queue"], timeout=30)
            except redis.RedisError as exc:
                popped.append(exc)

        thread = threading.Thread(target=pop)
        thread.start()
        admin = server.client()
        wait_for(lambda: admin.info("clients")["blocked_clients"] == 1, timeout=30)
        admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))  # nobody there
        thread.join(30)
        (error,) = popped
        assert isinstance(error, UnblockedError) and isinstance(error, WRITES_REFUSED)
        with pytest.raises(redis.ReadOnlyError):
            admin.set("key", "value")
        admin.execute_command("REPLICAOF", "NO", "ONE")
    finally:
        server.stop()
