"""Redis stalls, or refuses writes, with executions in flight: nothing lost, none sent twice.

- Paused (SIGSTOP), past every client timeout and past the run lease, at the moment a
  batch of Creates reaches the HTTP job service, which answers them while Redis cannot be
  reached. The worker must keep the handles and write them back once Redis answers, and
  the scheduler must give it that time before it takes the lapsed run leases for a dead
  worker's.
- Full (``maxmemory`` reached, ``noeviction``), then given room: every write is refused,
  the broker's bookkeeping included. No process may exit, and what a refused write lost
  (a publish, a message taken) is sent again within seconds of the room coming back.

Each: one Create request per attempt, nothing lost, stuck or leaked.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from plugins.core import Phase
from plugins.errors import BackendUnavailableError
from scheduler import Client, Execution
from scheduler.testing import RedisServer
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.test_flows import seconds, template

STALL = 12.0
"""Seconds Redis stays paused: past redis-py's 5 s socket timeout and the 3 s run lease."""

FULL = 8.0
"""Seconds Redis stays full: Gets fall due every second, and the run lease is 3 s."""


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
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis paused {STALL:g}s mid-Create")


def test_a_full_redis_refuses_writes_then_gets_room_and_every_process_survives(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    server, stack = paused
    client = stack.client()
    worker = stack.processes["w1"]
    # The worker's consumer is held while jobs are published, so that it takes them from
    # the queue once Redis is full: its bookkeeping of each message is then refused.
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        executions = [
            client.submit(template("http_job"), seconds(2), project="full") for _ in range(2)
        ]
        wait_for(
            lambda: all(claimed(client, ex.id) for ex in executions),
            timeout=60,
            what="the Creates to be claimed and published",
        )
        admin = server.client()
        admin.config_set("maxmemory-policy", "noeviction")
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", max(1, used // 2))  # full: every write is refused now
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    with pytest.raises(BackendUnavailableError, match=r"(?i)memory"):
        client.submit(template("http_job"), seconds(0), project="full")
    wait_for(
        lambda: "maxmemory" in stack.log("w1").read_text(),
        timeout=60,
        what="the worker to meet the refusal",
    )
    time.sleep(FULL)  # the fault's length, not a wait for some state
    admin.config_set("maxmemory", 0)
    wait_all(executions, timeout=120)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis full for {FULL:g}s")
    assert "Unrecoverable error" not in stack.log("w1").read_text()


def claimed(client: Client, execution_id: str) -> bool:
    record = client.runtime.store.get(execution_id)
    return record is not None and record.claim is not None


def nothing_lost_or_repeated(
    stack: Stack, executions: list[Execution], ledger: Ledger, label: str
) -> None:
    """Every execution SUCCESS, one Create request per attempt, and no process exited."""
    result = tally(stack.client(), executions, ledger, label)
    assert (result.lost, result.stuck, result.duplicates, result.leaked) == (0, 0, 0, 0)
    assert result.resent == 0, ledger.create_requests
    assert all(ex.refresh().phase is Phase.SUCCESS for ex in executions)
    for name in ("w1", "beat"):
        assert stack.processes[name].poll() is None, f"{name} exited"
