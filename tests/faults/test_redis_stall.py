"""Redis stalls (SIGSTOP) while Creates are answering: every answer is kept, none sent twice.

A private redis-server is paused, past every client timeout and past the run lease, at
the moment a batch of Creates reaches the HTTP job service; the service then answers
them while Redis cannot be reached. The worker must keep the handles and write them back
once Redis answers, and the scheduler must give it that time before it takes the lapsed
run leases for a dead worker's: one Create request per attempt, nothing lost or stuck.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.testing import RedisServer
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.test_flows import seconds, template

STALL = 12.0
"""Seconds Redis stays paused: past redis-py's 5 s socket timeout and the 3 s run lease."""


@pytest.fixture
def paused(tmp_path: Path, job_service: JobService) -> Iterator[tuple[RedisServer, Stack]]:
    server = RedisServer.start(tmp_path)
    # The visibility timeout as in production: longer than the stall, so Celery does not
    # deliver the running job a second time (that is the claims' and leases' business).
    overrides = {"visibility_timeout": timedelta(minutes=2)}
    stack = Stack(server.url, tmp_path, job_service.url, overrides=overrides)
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        yield server, stack
    finally:
        os.kill(server.process.pid, signal.SIGCONT)  # however the test ended
        job_service.ledger.hold_creates.clear()
        stack.stop()
        server.stop()


def test_creates_answered_during_a_redis_stall_are_kept_and_never_sent_again(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    server, stack = paused
    client = stack.client()
    ledger.hold_creates.set()
    executions = [
        client.submit(template("http_job"), seconds(0.5), project="stall") for _ in range(8)
    ]
    wait_for(ledger.held.is_set, timeout=60, what="the Creates to reach the service")
    os.kill(server.process.pid, signal.SIGSTOP)
    ledger.hold_creates.clear()  # the held Creates answer now, while Redis is paused
    time.sleep(STALL)  # the fault's length, not a wait for some state
    os.kill(server.process.pid, signal.SIGCONT)
    wait_all(executions, timeout=180)
    result = tally(client, executions, ledger, f"Redis paused {STALL:g}s mid-Create")
    assert (result.lost, result.stuck, result.duplicates, result.leaked) == (0, 0, 0, 0)
    assert result.resent == 0, ledger.create_requests
    assert all(ex.refresh().phase.name == "SUCCESS" for ex in executions)
    for name in ("w1", "beat"):
        assert stack.processes[name].poll() is None, f"{name} exited"
