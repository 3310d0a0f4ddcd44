"""Batched Creates: one job carries several executions of a plugin, created concurrently."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest

from plugins.core import Phase
from scheduler import Submission
from scheduler._model import Step
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.remote_job import JobHandle, JobSpec, MemoryJobService


@dataclass
class GatheringJobService(MemoryJobService):
    """MemoryJobService whose submits may wait until a number of them run at once."""

    barrier: threading.Barrier | None = None

    def submit(self, spec: JobSpec) -> JobHandle:
        if self.barrier is not None:
            # Breaks (and the Create fails) unless the batch's Creates run concurrently.
            self.barrier.wait()
        return super().submit(spec)


@pytest.fixture
def service() -> GatheringJobService:
    return GatheringJobService()


def test_the_creates_of_a_tick_go_out_in_jobs_of_the_batch_size(harness_factory) -> None:
    h: Harness = harness_factory(create_batch_size=4)
    executions = h.client.submit_many(
        [Submission(template("remote"), ints(x=n)) for n in range(10)]
    )
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE] * 3
    carried = [[execution_id for execution_id, _ in job.args[0]] for job in h.jobs]
    assert [len(ids) for ids in carried] == [4, 4, 2]
    assert sorted(i for ids in carried for i in ids) == sorted(ex.id for ex in executions)
    jobs = list(h.jobs)
    h.jobs.clear()
    for job in jobs:
        h.run(job)
    assert {ex.refresh().phase for ex in executions} == {Phase.RUNNING}
    h.run(jobs[0])  # a redelivered batch finds its claims gone: nothing is created twice
    assert sorted(h.service.creates.values()) == [1] * 10
    for name in h.service.jobs:
        h.service.jobs[name] = "SUCCEEDED"
    h.until(lambda: all(ex.refresh().phase is Phase.SUCCESS for ex in executions))


def test_a_batch_runs_its_creates_concurrently(harness_factory) -> None:
    h: Harness = harness_factory(create_batch_size=5)
    h.service.barrier = threading.Barrier(5, timeout=30)
    remote = template("remote")
    executions = h.client.submit_many([Submission(remote, ints(x=n)) for n in range(5)])
    h.tick()
    (job,) = h.jobs
    h.jobs.clear()
    h.run(job)
    assert not h.service.barrier.broken
    assert {ex.refresh().phase for ex in executions} == {Phase.RUNNING}


def test_one_failing_create_fails_only_its_own_attempt(harness_factory) -> None:
    h: Harness = harness_factory(create_batch_size=6)
    h.service.fail_creates = 1
    executions = h.client.submit_many(
        [Submission(template("remote", retries=1), ints(x=n)) for n in range(6)]
    )
    h.until(lambda: all(ex.refresh().phase is Phase.RUNNING for ex in executions))
    records = [ex.refresh().record for ex in executions]
    assert sorted(r.attempt for r in records) == [0, 0, 0, 0, 0, 1]  # only one was retried
    retried = next(ex for ex in executions if ex.record.attempt == 1)
    ended = [e for e in retried.events() if e.attempt == 0][-1]
    assert ended.phase.is_failure() and "service unavailable" in ended.reason


def test_a_create_with_a_deadline_goes_alone_with_its_own_time_limit(harness_factory) -> None:
    h: Harness = harness_factory(create_batch_size=20)
    timed = template("remote", timeout=30)
    plain = template("remote")
    h.client.submit_many(
        [Submission(timed, ints(x=n)) for n in range(2)]
        + [Submission(plain, ints(x=n)) for n in range(3)]
    )
    h.tick()
    sizes = sorted(len(job.args[0]) for job in h.jobs)
    assert sizes == [1, 1, 3]
    limits = sorted(job.time_limit for job in h.jobs if job.time_limit is not None)
    assert limits[0] <= timedelta(seconds=40) < limits[-1]  # 30 s left + 10 s; call timeout
