"""Backpressure on real processes: beat counts the broker's queue and holds launches back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import Submission
from scheduler._model import ExecutionRecord
from tests.helpers import RedisServer, wait_for
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
    store = client.runtime.store
    queue = client.runtime.queues.name("http-job", "default")
    executions = client.submit_many(
        [Submission(template("http_job"), seconds(0)) for _ in range(20)], project="p-backlog"
    )
    # The first tick launches one and puts the rest in line (one job fits in the queue).

    def in_line() -> list[ExecutionRecord]:
        found = store.get_many(store.indexes.waiting_for_room(queue, 1))
        return [record for record in found if record.waiting_queue]

    waiting = wait_for(in_line, timeout=60, interval=0.01)[0]
    assert waiting.phase is Phase.QUEUED and waiting.waiting_queue == queue
    assert waiting.reason.startswith(f"waiting for a worker: queue {queue} holds ")
    assert waiting.reason.endswith(" jobs (FLYTE_CELERY_QUEUE_BACKLOG is 1)")
    wait_all(executions, timeout=180)
    assert [ex.phase for ex in executions] == [Phase.SUCCESS] * 20
    assert len(ledger.jobs) == 20  # one Create each
    assert store.totals.waiting_for_room([queue]) == {queue: 0}
