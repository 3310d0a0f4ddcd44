"""Every process survives Redis going away and coming back, with or without its data.

A private redis-server (not the session's) is stopped while a real beat and a
real worker run, kept down until the scheduler has noticed, and started again on
the same port: with its append-only file, or empty. Executions submitted before
and after complete; the scheduler logs one line for the outage and one for the
recovery, and no process exits. It prints how soon the scheduler was back and the
lost, leaked and stuck counts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin import SleepTask
from plugins.core import Phase
from scheduler.testing import RedisServer
from tests.faults.tally import tally
from tests.integration.stack import Stack, wait_all


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
    before = [client.submit(*echo(i)) for i in range(10)]
    wait_all(before, timeout=60)
    # In flight across the outage: remote-style sleeps the scheduler polls.
    nap = SleepTask("nap")
    sleeping = [client.submit(nap, {"duration": timedelta(seconds=3)}) for _ in range(4)]

    # Given Redis goes away long enough for the scheduler to notice...
    if how.startswith("kill9"):
        server.kill()
    else:
        server.stop()
    stack.wait_log("beat", " unavailable (", timeout=60)  # Redis itself, or as the broker
    # ...when it comes back on the same port,
    server.start_again()
    answered = time.monotonic()
    stack.wait_log("beat", " answers again after ", timeout=60)
    back = time.monotonic() - answered

    # then new work completes, and no process died.
    after = [client.submit(*echo(i)) for i in range(10)]
    wait_all(after, timeout=120)
    assert after[2].outputs().literals["n"].scalar.primitive.integer == 2
    assert stack.alive() == {"w1": True, "beat": True}
    print(f"\nRedis {how}: the scheduler was back {back:.1f} s after Redis answered")
    # Executions finished before an empty restart are gone with Redis's data: only a
    # restart that keeps the data must keep them.
    if how.endswith("empty"):
        kept = after
    else:
        wait_all(sleeping, timeout=120)
        assert all(ex.phase is Phase.SUCCESS for ex in sleeping)
        kept = before + sleeping + after
    counts = tally(client, kept, None, f"Redis {how}")
    assert counts.zero()
    assert all(ex.phase is Phase.SUCCESS for ex in after)
    log = stack.log("beat").read_text()
    assert log.count(" unavailable (") == 1, "one line per outage, not one per retry"
    assert "Traceback" not in log
    client.close()
