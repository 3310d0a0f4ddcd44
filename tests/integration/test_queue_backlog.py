"""Backpressure on real processes: beat counts the broker's queue and holds launches back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import Submission
from tests.helpers import RedisServer
from tests.integration.jobservice import JobService, Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template


@pytest.fixture
def narrow(redis_server: RedisServer, job_service: JobService, tmp_path: Path) -> Iterator[Stack]:
    """One worker with one pool process; a queue may hold one job."""
    overrides = {"queue_backlog": 1, "create_batch_size": 1}
    with Stack(redis_server.url, tmp_path, job_service.url, overrides=overrides).one_worker() as s:
        yield s


def test_a_burst_waits_for_the_workers_and_each_runs_once(narrow: Stack, ledger: Ledger) -> None:
    client = narrow.client()
    executions = client.submit_many(
        [Submission(template("http_job"), seconds(0)) for _ in range(8)], project="p-backlog"
    )
    wait_all(executions, timeout=180)
    assert [ex.phase for ex in executions] == [Phase.SUCCESS] * 8
    assert len(ledger.jobs) == 8  # one Create each
    reasons = [event.reason for ex in executions for event in ex.events()]
    waited = [r for r in reasons if r.startswith("waiting for a worker: queue ")]
    assert waited, reasons
    assert "(FLYTE_CELERY_QUEUE_BACKLOG is 1)" in waited[0]
