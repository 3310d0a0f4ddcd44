"""Every process survives Redis going away and coming back, with or without its data.

A private redis-server (not the session's) is stopped while a real beat and a
real worker run, kept down until the scheduler has noticed, and started again on
the same port: with its append-only file, or empty. Executions submitted before
and after complete; the scheduler logs one line for the outage and one for the
recovery, and no process exits. It prints how soon the scheduler was back and the
lost, leaked and stuck counts.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin import SleepTask
from plugins.core import Phase
from scheduler import Execution
from scheduler.testing import RedisServer
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.stack import Stack, wait_all
from worker.broker import RECONNECT_INTERVAL_MAX

SOAK = os.environ.get("FLYTE_CELERY_SOAK") == "1"
CYCLES = 10 if SOAK else 1
BACK = re.compile(
    r"answers again after [0-9.]+s and ([0-9]+) attempts \(longest pause ([0-9.]+)s\)"
)


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


def _outage(server: RedisServer, stack: Stack, how: str, cycle: int) -> float:
    """Take Redis away until beat and the worker noticed; bring it back. Seconds to recover."""
    if how.startswith("kill9"):
        server.kill()
    else:
        server.stop()
    # Long enough for the scheduler to notice, and for the worker to retry a few times
    # (kombu's own pauses would grow to seconds by then)...
    wait_for(
        lambda: stack.log("beat").read_text().count(" unavailable (") > cycle,
        timeout=60,
        what="the scheduler to notice",
    )
    # The fault's length (not a wait for some state): four seconds of retrying, in which
    # kombu's own pauses would have grown to two seconds and more.
    time.sleep(4)
    # ...then it comes back on the same port.
    server.start_again()
    answered = time.monotonic()
    wait_for(
        lambda: stack.log("beat").read_text().count(" answers again after ") > cycle,
        timeout=60,
        what="the scheduler to resume",
    )
    return time.monotonic() - answered


def test_every_process_survives_a_redis_restart(outage: tuple[RedisServer, Stack, str]) -> None:
    server, stack, how = outage
    client = stack.client()
    kept: list[Execution] = []
    backs: list[float] = []
    nap = SleepTask("nap")
    for cycle in range(CYCLES):
        before = [client.submit(*echo(i)) for i in range(10)]
        wait_all(before, timeout=60)
        # In flight across the outage: remote-style sleeps the scheduler polls.
        sleeping = [client.submit(nap, {"duration": timedelta(seconds=3)}) for _ in range(4)]
        backs.append(_outage(server, stack, how, cycle))
        # New work completes, and no process died.
        after = [client.submit(*echo(i)) for i in range(10)]
        wait_all(after, timeout=120)
        assert after[2].outputs().literals["n"].scalar.primitive.integer == 2
        assert stack.alive() == {"w1": True, "beat": True}
        # Executions finished before an empty restart are gone with Redis's data: only a
        # restart that keeps the data must keep them.
        if how.endswith("empty"):
            kept = after
        else:
            wait_all(sleeping, timeout=120)
            assert all(ex.phase is Phase.SUCCESS for ex in sleeping)
            kept += before + sleeping + after
        assert all(ex.phase is Phase.SUCCESS for ex in after)
    print(
        f"\nRedis {how}, {CYCLES} outage(s): the scheduler was back "
        f"{', '.join(f'{b:.1f}' for b in backs)} s after Redis answered"
    )
    counts = tally(client, kept, None, f"Redis {how}")
    assert counts.zero()
    # Workers retry the lost broker at least once a second (kombu's default backs off to
    # 30 s), so they resume within about a second of Redis answering; the worker logs one
    # line when the broker goes and one when it answers again, not one per attempt.
    worker_log = stack.log("w1").read_text(errors="replace")
    backs_seen = [(int(n), float(p)) for n, p in BACK.findall(worker_log)]
    print(f"worker reconnections (attempts, longest pause s): {backs_seen}")
    assert len(backs_seen) == CYCLES
    assert all(attempts > 3 and pause <= RECONNECT_INTERVAL_MAX for attempts, pause in backs_seen)
    assert worker_log.count("consumer: Cannot connect to") == CYCLES
    log = stack.log("beat").read_text()
    assert log.count(" unavailable (") == CYCLES, "one line per outage, not one per retry"
    assert "Traceback" not in log
    assert "Unrecoverable" not in stack.log("w1").read_text(errors="replace")
    client.close()
