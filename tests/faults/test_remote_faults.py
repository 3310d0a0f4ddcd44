"""Remote services that fail: 500s and 429s, Deletes that keep failing, calls that hang.

Real worker and beat processes run the HTTP remote-job plugin against the test job
service, which fails or hangs the requests of chosen projects while healthy
executions run alongside. Each test prints lost, duplicate, leaked and stuck counts
and asserts they are zero.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import Client, Execution
from tests.faults.tally import tally
from tests.helpers import wait_for
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template


@pytest.fixture
def stack(redis_server: object, job_service: JobService, tmp_path: Path) -> Iterator[Stack]:
    overrides = {
        "run_lease": timedelta(seconds=3),
        "system_retry_backoff": timedelta(seconds=1),
        "system_retry_backoff_max": timedelta(seconds=4),
    }
    running = Stack(redis_server.url, tmp_path, job_service.url, overrides=overrides)  # type: ignore[attr-defined]
    running.start_worker("w1")
    running.start_beat("beat")
    try:
        yield running
    finally:
        job_service.ledger.released.set()
        running.stop()


def healthy(client: Client, count: int) -> list[Execution]:
    return [
        client.submit(template("http_job_capped"), seconds(0.5), project="healthy")
        for _ in range(count)
    ]


def test_500s_and_429s_back_off_then_succeed(stack: Stack, ledger: Ledger) -> None:
    ledger.create_errors["flaky"] = [500, 429, 500]
    client = stack.client()
    flaky = client.submit(template("http_job_capped", retries=3), seconds(0.5), project="flaky")
    others = healthy(client, 6)
    wait_all([flaky, *others], timeout=180)
    assert flaky.refresh().phase is Phase.SUCCESS
    assert [ex.refresh().phase for ex in others] == [Phase.SUCCESS] * 6
    record = flaky.record
    # Three failed Creates (retryable errors of the task), then the fourth attempt succeeded.
    assert record.attempt == 3 and record.user_failures == 3
    flaky_names = [n for n, job in ledger.jobs.items() if job.project == "flaky"]
    assert len(flaky_names) == 1  # only the successful Create made a job
    attempts = sorted({e.attempt for e in flaky.events()})
    assert attempts == [0, 1, 2, 3]
    times = [e.occurred_at for e in flaky.events() if e.phase is Phase.RETRYABLE_FAILURE]
    gaps = [round((b - a).total_seconds(), 1) for a, b in itertools.pairwise(times)]
    print(f"\nfailed Creates at gaps of {gaps} s (user retry backoff 1 s, 2 s, ...)")
    counts = tally(client, [flaky, *others], ledger, "500/429 on Create")
    assert counts.zero() and counts.resent == 0  # no kills: each Create sent once


def test_a_delete_that_keeps_failing_ends_aborted_with_the_failure_recorded(
    stack: Stack, ledger: Ledger
) -> None:
    ledger.auto_finish = None  # jobs run until deleted
    ledger.failing_deletes.add("stubborn")
    client = stack.client()
    stubborn = client.submit(template("http_job_capped"), seconds(0), project="stubborn")
    wait_for(lambda: stubborn.refresh().phase is Phase.RUNNING, timeout=60, what="RUNNING")
    stubborn.abort("operator abort")
    ledger.auto_finish = 0.0
    others = healthy(client, 4)
    wait_all([stubborn, *others], timeout=180)
    assert stubborn.refresh().phase is Phase.ABORTED
    err = stubborn.error()
    assert err is not None and err.code == "CleanupFailed"
    assert "HTTP 500" in err.message and "cleanup failed after 4 attempts" in err.message
    last = stubborn.events()[-1]
    assert last.phase is Phase.ABORTED and "cleanup failed" in last.reason
    # Retried with backoff up to the system-retry budget (3), then given up.
    (name,) = [n for n, job in ledger.jobs.items() if job.project == "stubborn"]
    assert ledger.delete_requests[name] == 4
    assert [ex.refresh().phase for ex in others] == [Phase.SUCCESS] * 4
    counts = tally(client, [stubborn, *others], ledger, "failing Delete")
    assert counts.zero() and counts.resent == 0  # no kills: each Create sent once


def test_hung_calls_end_at_the_deadline_and_free_their_slots(stack: Stack, ledger: Ledger) -> None:
    ledger.hanging_creates.add("hang-create")
    ledger.hanging_gets.add("hang-get")
    client = stack.client()
    hung_create = client.submit(
        template("http_job_capped", timeout=3), seconds(30), project="hang-create"
    )
    hung_get = client.submit(
        template("http_job_capped", timeout=3), seconds(30), project="hang-get"
    )
    others = healthy(client, 6)
    started = time.monotonic()
    wait_all([hung_create, hung_get, *others], timeout=180)
    took = time.monotonic() - started
    for ex in (hung_create, hung_get):
        assert ex.refresh().phase is Phase.PERMANENT_FAILURE  # retries=0: TimedOut is final
        err = ex.error()
        assert err is not None and err.code == "TimedOut", err
    assert [ex.refresh().phase for ex in others] == [Phase.SUCCESS] * 6
    print(f"\n2 hung calls (3 s timeouts) and 6 healthy executions finished in {took:.1f} s")
    # The hung Create was cut off by its time limit (the slot is free again), not run
    # again: the tally counts a second Create request under its name as re-sent.
    # (The attempt ends at its deadline; the time limit fires a little later.)
    wait_for(
        lambda: "SoftTimeLimitExceeded" in stack.log("w1").read_text(errors="replace"),
        timeout=60,
        what="the hung Create's time limit",
    )
    counts = tally(client, [hung_create, hung_get, *others], ledger, "hung calls")
    assert counts.zero() and counts.resent == 0  # no kills: each Create sent once
