"""Every process survives Redis going away and coming back, with or without its data.

A private redis-server (not the session's) is stopped while a real beat and a
real worker run, kept down until the scheduler has noticed, and started again on
the same port: with its append-only file, or empty. Executions submitted before
and after complete; the scheduler logs one line for the outage and one for the
recovery, and no process exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import Phase
from scheduler.testing import RedisServer
from tests.integration.stack import Stack


def echo(n: int) -> tuple[tasks_pb2.TaskTemplate, dict[str, literals_pb2.Literal]]:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.integer = n
    return tasks_pb2.TaskTemplate(type="echo"), {"n": lit}


@pytest.fixture(params=["shutdown-aof", "kill9-aof", "shutdown-empty"])
def outage(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RedisServer, Stack, str]]:
    how = str(request.param)
    server = RedisServer.start(tmp_path, persistence=how.endswith("aof"))
    stack = Stack(server.url, tmp_path, "http://127.0.0.1:9")  # the echo plugin needs no service
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        yield server, stack, how
    finally:
        stack.stop()
        server.stop()


def test_every_process_survives_a_redis_restart(outage: tuple[RedisServer, Stack, str]) -> None:
    server, stack, how = outage
    client = stack.client()
    before = client.submit(*echo(1))
    assert before.wait(60) is Phase.SUCCESS

    # Given Redis goes away long enough for the scheduler to notice...
    if how.startswith("kill9"):
        server.kill()
    else:
        server.stop()
    stack.wait_log("beat", "Redis unavailable", timeout=60)
    # ...when it comes back on the same port,
    server.start_again()
    stack.wait_log("beat", "Redis answers again", timeout=60)

    # then new work completes, and no process died.
    after = client.submit(*echo(2))
    assert after.wait(120) is Phase.SUCCESS
    assert after.outputs().literals["n"].scalar.primitive.integer == 2
    assert stack.alive() == {"w1": True, "beat": True}
    log = stack.log("beat").read_text()
    assert log.count("Redis unavailable") == 1, "one line per outage, not one per retry"
    assert "Traceback" not in log
    client.close()
