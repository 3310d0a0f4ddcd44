"""Run leases: a step runs once at a time, and a dead worker's step is re-run within seconds."""

from __future__ import annotations

from datetime import timedelta

from plugins.core import Phase
from scheduler.backend.runs import run_member
from scheduler.model import Claim, Step
from scheduler.testing import PublishedJob
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template

LEASE = timedelta(seconds=15)  # Settings.run_lease's default


def claimed_create(h: Harness) -> tuple[str, PublishedJob]:
    ex = h.client.submit(template("remote"), ints(x=1))
    h.tick()  # Create is claimed and published; nothing has run it yet
    (job,) = h.jobs
    h.jobs.clear()
    assert job.step is Step.CREATE
    return ex.id, job


def test_a_second_delivery_of_a_running_step_does_nothing(harness_factory) -> None:
    h: Harness = harness_factory()
    execution_id, job = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    # Another worker runs this Create right now (it holds the lease and renews it).
    assert h.runtime.runs.take([member], "other-worker", h.now, LEASE) == [True]
    h.run(job)  # Celery redelivers the message: the claim is still there, the lease too
    assert sum(h.service.creates.values()) == 0
    assert h.runtime.store.get(execution_id).claim == Claim(Step.CREATE, 0)  # type: ignore[union-attr]


def test_a_dead_workers_step_is_published_again_once_its_lease_lapses(harness_factory) -> None:
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    assert h.runtime.runs.take([member], "worker-that-dies", h.now, LEASE) == [True]
    h.advance(LEASE - timedelta(seconds=1))
    h.tick()
    assert h.jobs == [], "a live lease means the step is still running"
    h.advance(timedelta(seconds=2))
    h.tick()  # the lease lapsed: seconds, not the 5 minute visibility timeout
    (again,) = h.jobs
    assert again.step is Step.CREATE and again.args == [execution_id, 0]
    h.drain()
    assert h.client.get(execution_id).phase is Phase.RUNNING
    assert sum(h.service.creates.values()) == 1


def test_a_step_longer_than_the_visibility_timeout_runs_once(harness_factory) -> None:
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    owner = "slow-worker"
    visibility = h.runtime.settings.visibility_timeout
    elapsed = timedelta(0)
    assert h.runtime.runs.take([member], owner, h.now, LEASE) == [True]
    while elapsed <= visibility + LEASE:
        step = LEASE / 3
        h.advance(step)
        elapsed += step
        assert h.runtime.runs.renew([member], owner, h.now, LEASE) == [True]
        h.tick()
        assert h.jobs == [], f"re-published after {elapsed} while its worker renewed the lease"


def test_a_timeout_does_not_wait_for_a_get_in_flight(harness_factory) -> None:
    h: Harness = harness_factory(resync=5)
    ex = h.client.submit(template("remote", timeout=8), ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING
    h.advance(timedelta(seconds=5))
    h.tick()  # a Get is claimed and published; its worker hangs on the remote service
    (hung,) = h.jobs
    h.jobs.clear()
    assert hung.step is Step.GET
    h.advance(timedelta(seconds=4))  # past the 8 s timeout, the Get still in flight
    h.drain()
    record = ex.refresh().record
    assert (record.attempt == 0 and ex.phase is not Phase.RUNNING) or record.user_failures == 1
    assert len(h.service.deletes) == 1, "Delete ran at the deadline, without the Get"
    assert record.last_error is not None and record.last_error.code == "TimedOut"
    h.run(hung)  # the hung Get returns at last: its result is dropped by the claim check
    assert ex.refresh().record.last_error.code == "TimedOut"  # type: ignore[union-attr]


def test_every_job_carries_a_time_limit(harness_factory) -> None:
    h: Harness = harness_factory()
    remote = h.client.submit(template("remote"), ints(x=1))
    h.tick()
    (create,) = h.jobs
    assert create.args == [remote.id, 0]
    assert create.time_limit == h.runtime.settings.call_timeout
    h.jobs.clear()
    echo = h.client.submit(template("echo", timeout=30), ints(x=1))
    h.tick()
    (do,) = [j for j in h.jobs if j.args == [echo.id, 0]]
    # A Do call ends soon after its attempt's deadline (the scheduler's TimedOut comes first).
    assert do.time_limit == timedelta(seconds=40)


def test_a_job_reserved_on_receipt_runs_under_the_same_owner_only(harness_factory) -> None:
    from scheduler.steps.leases import Reservations

    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    claims = [(execution_id, Claim(Step.CREATE, 0))]
    reservations = Reservations(h.runtime)
    try:
        reservations.reserve(claims, "task-1@w1")  # the main process, as the job arrives
        h.steps.create(execution_id, 0, owner="task-1@w2")  # a redelivery elsewhere: skipped
        assert sum(h.service.creates.values()) == 0
        h.steps.create(execution_id, 0, owner="task-1@w1")  # the pool process of w1: runs
        assert sum(h.service.creates.values()) == 1
    finally:
        reservations.stop()


def test_a_job_reserved_by_a_worker_that_died_comes_back_within_the_lease(
    harness_factory,
) -> None:
    from scheduler.steps.leases import Reservations

    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    reservations = Reservations(h.runtime)
    reservations.reserve([(execution_id, Claim(Step.CREATE, 0))], "task-1@w1")
    reservations.stop()  # the worker dies before a pool process starts the job
    h.advance(LEASE + timedelta(seconds=1))
    h.tick()
    (again,) = h.jobs
    assert again.step is Step.CREATE and again.args == [execution_id, 0]
