"""Redis stalls, or refuses writes, with executions in flight: nothing lost, none sent twice.

- Paused (SIGSTOP), past every client timeout and past the run lease, at the moment a
  batch of Creates reaches the HTTP job service, which answers them while Redis cannot be
  reached. The worker must keep the handles and write them back once Redis answers, and
  the scheduler must give it that time before it takes the lapsed run leases for a dead
  worker's.
- Full (``maxmemory`` reached, ``noeviction``), then given room: every write is refused,
  the broker's bookkeeping included. No process may exit, and what a refused write lost
  (a publish, a message taken) is sent again within seconds of the room coming back. A
  broker of its own that is full refuses only the publishes, after their claims are
  written.
- Mid-Get and mid-write-back: a Get's answer that its job ended is written back once
  Redis answers, and never asked for again.
- Demoted to a read-only replica while Creates are in flight, then primary again; and
  refusing writes (``MISCONF``) after a failed snapshot, until one succeeds.

Each: one Create request per attempt, nothing lost, stuck or leaked.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from plugins.core import Phase
from plugins.errors import BackendUnavailableError
from scheduler import Client, Execution
from scheduler.testing import RedisServer
from tests.faults.chaos import demoted, failed_snapshot
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template

RUN_LEASE = timedelta(seconds=8)
"""Shorter than the faults, so leases lapse in them. After Redis answers again, the scheduler
waits one lease for the workers to renew theirs and write back. 3 s, then 5 s, left too small
a margin on a loaded 2-core machine (a CI run in four): a write-back held up longer had its
Get sent again. Production's lease is 15 s."""

STALL = 12.0
"""Seconds Redis stays paused: past redis-py's 5 s socket timeout and the run lease."""

FULL = 8.0
"""Seconds Redis stays full: Gets fall due every second, and past the run lease."""


@pytest.fixture
def paused(tmp_path: Path, job_service: JobService) -> Iterator[tuple[RedisServer, Stack]]:
    server = RedisServer.start(tmp_path)
    # The visibility timeout as in production: longer than the stall, so Celery does not
    # deliver the running job a second time (that is the claims' and leases' business).
    overrides = {"visibility_timeout": timedelta(minutes=2), "run_lease": RUN_LEASE}
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
    stall(server, release=ledger.hold_creates)  # the held Creates answer into the stall
    wait_all(executions, timeout=180)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis paused {STALL:g}s mid-Create")


def test_gets_answered_during_a_redis_stall_are_written_back_and_not_sent_again(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    server, stack = paused
    executions = running(stack, ledger)
    ledger.hold_gets.set()
    for name in list(ledger.jobs):
        ledger.finish(name)  # the next Gets see the jobs end
    wait_for(ledger.get_held.is_set, timeout=60, what="a Get to reach the service")
    stall(server, release=ledger.hold_gets)  # the held Gets answer into the stall
    wait_all(executions, timeout=180)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis paused {STALL:g}s mid-Get")
    assert set(ledger.final_answers.values()) == {1}, "a job's end was answered twice"


def test_a_write_back_caught_in_a_redis_stall_is_written_once_redis_answers(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    # Redis stops the moment the first Get has answered that its job ended: the worker's
    # write-back of that answer is sent into the paused Redis, and times out. Redis may
    # still run it once it wakes (the command waits in its socket), and the worker tries
    # again: the compare-and-set lets one of the two through.
    server, stack = paused
    executions = running(stack, ledger)
    stopped = threading.Event()

    def stop_redis() -> None:
        if not stopped.is_set():
            stopped.set()
            os.kill(server.process.pid, signal.SIGSTOP)

    ledger.after_final_answer = stop_redis
    for name in list(ledger.jobs):
        ledger.finish(name)
    wait_for(stopped.is_set, timeout=60, what="a Get to see its job end")
    stall(server)  # paused already: the rest of the stall
    wait_all(executions, timeout=180)
    label = f"Redis paused {STALL:g}s mid-write-back"
    nothing_lost_or_repeated(stack, executions, ledger, label)
    assert set(ledger.final_answers.values()) == {1}, "a job's end was answered twice"


def creates_held(stack: Stack, ledger: Ledger) -> list[Execution]:
    """Six executions whose Creates the remote service holds open until the test says."""
    client = stack.client()
    ledger.hold_creates.set()
    task = template("http_job_capped")  # a quota of 6: all at once
    executions = [client.submit(task, seconds(2), project="refused") for _ in range(6)]
    wait_for(ledger.held.is_set, timeout=60, what="the Creates to reach the service")
    return executions


def stall(server: RedisServer, release: threading.Event | None = None) -> None:
    """Redis paused (SIGSTOP) for :data:`STALL` seconds; ``release`` cleared once it is."""
    os.kill(server.process.pid, signal.SIGSTOP)
    if release is not None:
        release.clear()
    time.sleep(STALL)  # the fault's length, not a wait for some state
    os.kill(server.process.pid, signal.SIGCONT)


def running(stack: Stack, ledger: Ledger, count: int = 6) -> list[Execution]:
    """``count`` executions whose remote jobs run until the test ends them."""
    ledger.auto_finish = None
    client = stack.client()
    task = template("http_job_capped")  # a quota of 6: all run at once
    executions = [client.submit(task, seconds(0), project="stall") for _ in range(count)]
    wait_for(
        lambda: all(ex.refresh().phase is Phase.RUNNING for ex in executions),
        timeout=60,
        what="every execution to run",
    )
    return executions


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
    stack.wait_log("w1", "maxmemory")
    time.sleep(FULL)  # the fault's length, not a wait for some state
    admin.config_set("maxmemory", 0)
    wait_all(executions, timeout=120)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis full for {FULL:g}s")


def test_a_redis_demoted_to_a_replica_refuses_writes_then_leads_again(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    # A failover demotes the primary while Creates are in flight: it turns replica (of a
    # primary it cannot reach, so it keeps its data and serves reads) and answers every
    # write READONLY; the worker's consumer loses its broker connection. Then it leads
    # again. Workers and beat must take that for an outage, not exit, and the Creates in
    # flight must finish and be written back, not be cut off and sent again.
    server, stack = paused
    executions = creates_held(stack, ledger)
    with demoted(server):
        stack.wait_log("w1", "broker")
        ledger.hold_creates.clear()  # the Creates answer now, while Redis refuses writes
        with pytest.raises(BackendUnavailableError, match=r"(?i)read.only"):
            stack.client().submit(template("http_job"), seconds(0))
        time.sleep(FULL)  # the fault's length, not a wait for some state
    wait_all(executions, timeout=120)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis read-only for {FULL:g}s")


def test_a_redis_whose_snapshot_failed_refuses_writes_then_takes_them_again(
    paused: tuple[RedisServer, Stack], ledger: Ledger
) -> None:
    # MISCONF: the last snapshot failed, and Redis holds writes until one succeeds.
    server, stack = paused
    executions = creates_held(stack, ledger)
    with failed_snapshot(server):
        ledger.hold_creates.clear()  # the Creates answer now, while Redis refuses writes
        with pytest.raises(BackendUnavailableError, match=r"MISCONF|unable to persist"):
            stack.client().submit(template("http_job"), seconds(0))
        stack.wait_log("beat", "unavailable")
        time.sleep(FULL)  # the fault's length, not a wait for some state
    wait_all(executions, timeout=120)
    nothing_lost_or_repeated(stack, executions, ledger, f"Redis MISCONF for {FULL:g}s")


def test_publishes_the_broker_refuses_go_out_once_it_has_room(
    tmp_path: Path, job_service: JobService, ledger: Ledger
) -> None:
    # The broker is a Redis of its own, and it is full: the scheduler writes each Create's
    # claim (the state Redis has room), then the broker refuses the publish. The jobs must
    # go out within seconds of the broker taking messages again, not after the visibility
    # timeout (2 minutes here, past the test's deadline).
    (tmp_path / "broker").mkdir()
    server = RedisServer.start(tmp_path)
    broker = RedisServer.start(tmp_path / "broker")
    overrides = {"broker_url": broker.url, "visibility_timeout": timedelta(minutes=2)}
    stack = Stack(server.url, tmp_path, job_service.url, overrides=overrides)
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        admin = broker.client()
        admin.config_set("maxmemory-policy", "noeviction")
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory", max(1, used // 2))  # full: every publish is refused
        client = stack.client()
        task = template("http_job_capped")
        executions = [client.submit(task, seconds(0.5), project="refused") for _ in range(4)]
        wait_for(
            lambda: all(claimed(client, ex.id) for ex in executions),
            timeout=60,
            what="the Creates to be claimed",
        )
        stack.wait_log("beat", "unavailable")
        time.sleep(FULL)  # the fault's length, not a wait for some state
        assert not ledger.create_requests, "a job went out through a full broker"
        admin.config_set("maxmemory", 0)
        wait_all(executions, timeout=60)
        nothing_lost_or_repeated(stack, executions, ledger, f"broker full for {FULL:g}s")
        assert "again after a failed publish" in stack.log("beat").read_text()
    finally:
        stack.stop()
        broker.stop()
        server.stop()


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
        assert "Unrecoverable error" not in stack.log(name).read_text()
