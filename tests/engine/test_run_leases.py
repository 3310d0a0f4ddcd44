"""Run leases: a step runs once at a time, and a dead worker's step is re-run within seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugins.core import Phase
from scheduler._backend.runs import run_member
from scheduler._model import Claim, Step
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
    assert again.step is Step.CREATE and again.args == [[[execution_id, 0]]]
    h.drain()
    assert h.client.get(execution_id).phase is Phase.RUNNING
    assert sum(h.service.creates.values()) == 1


def test_after_a_redis_outage_a_lapsed_lease_waits_a_lease_for_its_worker(
    harness_factory,
) -> None:
    # Redis stalled: the worker could not renew, and the scheduler's tick failed too.
    # The worker renews (or writes its answer back) as soon as Redis answers again; the
    # scheduler gives it a lease's time before it publishes the step again.
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    assert h.runtime.runs.take([member], "worker-of-the-stall", h.now, LEASE) == [True]
    h.advance(LEASE + timedelta(seconds=5))  # the stall: the lease lapsed meanwhile
    h.engine.upkeep.redis_failed()  # as the tick that met the stall noted it
    h.tick()
    assert h.jobs == [], "the worker gets a lease's time to renew"
    h.advance(LEASE - timedelta(seconds=1))
    h.tick()
    assert h.jobs == []
    h.advance(timedelta(seconds=2))
    h.tick()  # it never renewed: it died in the outage, and the step runs again
    (again,) = h.jobs
    assert again.step is Step.CREATE


def test_a_lease_renewed_after_an_outage_is_left_alone(harness_factory) -> None:
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    assert h.runtime.runs.take([member], "worker-of-the-stall", h.now, LEASE) == [True]
    h.advance(LEASE + timedelta(seconds=5))
    h.engine.upkeep.redis_failed()
    h.tick()
    assert h.runtime.runs.renew([member], "worker-of-the-stall", h.now, LEASE) == [True]
    h.advance(LEASE - timedelta(seconds=1))
    h.tick()
    assert h.jobs == [], "the worker renewed once Redis answered: its step still runs"


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
    assert create.args == [[[remote.id, 0]]]
    assert create.time_limit == h.runtime.settings.call_timeout
    h.jobs.clear()
    bounded = h.client.submit(template("remote", timeout=20), ints(x=1))
    h.tick()
    (create,) = [j for j in h.jobs if j.args == [[[bounded.id, 0]]]]
    # A Create of an attempt with a deadline is cut off soon after it, like a Do call.
    assert create.time_limit == timedelta(seconds=30)
    h.jobs.clear()
    echo = h.client.submit(template("echo", timeout=30), ints(x=1))
    h.tick()
    (do,) = [j for j in h.jobs if j.args == [echo.id, 0]]
    # A Do call ends soon after its attempt's deadline (the scheduler's TimedOut comes first).
    assert do.time_limit == timedelta(seconds=40)


def test_a_job_reserved_on_receipt_runs_under_the_same_owner_only(harness_factory) -> None:
    from scheduler._steps.leases import Reservations

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
    from scheduler._steps.leases import Reservations

    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    reservations = Reservations(h.runtime)
    reservations.reserve([(execution_id, Claim(Step.CREATE, 0))], "task-1@w1")
    reservations.stop()  # the worker dies before a pool process starts the job
    h.advance(LEASE + timedelta(seconds=1))
    h.tick()
    (again,) = h.jobs
    assert again.step is Step.CREATE and again.args == [[[execution_id, 0]]]


def test_a_reservation_whose_job_left_the_worker_unrun_is_let_go_and_lapses(
    harness_factory,
) -> None:
    # Celery let go of the job before a pool process ran it (revoked, or cancelled after
    # a lost broker connection): the main process must stop renewing its lease, or the
    # step would never run again.
    from scheduler._steps.leases import Reservations

    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    holds: set[str] = set()
    reservations = Reservations(h.runtime, live=lambda: holds)
    try:
        reservations.reserve([(execution_id, Claim(Step.CREATE, 0))], "task-1@w1")
        reservations.renew()
        assert reservations.held() == {member: "task-1@w1"}, "just announced: kept"
        holds.add("task-1@w1")  # Celery files it as reserved
        h.advance(LEASE / 3)
        reservations.renew()
        assert reservations.held() == {member: "task-1@w1"}
        holds.clear()  # and then lets go of it, unrun
        h.advance(LEASE / 3)
        reservations.renew()
        assert reservations.held() == {}
        h.advance(LEASE)
        h.tick()  # its lease lapsed: published again
        (again,) = h.jobs
        assert again.step is Step.CREATE and again.args == [[[execution_id, 0]]]
    finally:
        reservations.stop()


def test_a_reservation_never_filed_by_celery_is_let_go_after_a_lease(harness_factory) -> None:
    # Celery announces a job before it files it as reserved, and a slow Redis or broker
    # may stretch that: a reservation is kept while unseen, but not for a whole lease.
    from scheduler._steps.leases import Reservations

    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    reservations = Reservations(h.runtime, live=set)
    try:
        reservations.reserve([(execution_id, Claim(Step.CREATE, 0))], "task-1@w1")
        h.advance(LEASE - timedelta(seconds=1))
        reservations.renew()
        assert reservations.held(), "unseen for less than a lease: kept"
        h.advance(timedelta(seconds=2))
        reservations.renew()
        assert reservations.held() == {}
    finally:
        reservations.stop()


def test_a_create_cut_off_after_the_deadline_ends_the_attempt_timed_out(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote", timeout=8), ints(x=1))
    h.tick()
    (create,) = h.jobs  # the Create hangs on the remote service...
    h.jobs.clear()
    h.advance(timedelta(seconds=9))
    h.tick()  # ...past the deadline: the teardown waits for the Create's answer
    assert ex.refresh().record.claim == Claim(Step.CREATE, 0)
    h.service.fail_creates = 1  # Celery's soft time limit cuts the call off: it raises
    h.run(create)
    record = ex.refresh().record
    assert ex.phase is Phase.PERMANENT_FAILURE  # no retries: the retryable TimedOut is final
    assert record.last_error is not None and record.last_error.code == "TimedOut"
    assert h.runtime.quotas.metrics("remote:default").held == 0


def test_a_create_whose_worker_died_during_teardown_is_not_run_again(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote", timeout=8), ints(x=1))
    h.tick()
    h.jobs.clear()
    member = run_member(ex.id, Claim(Step.CREATE, 0))
    assert h.runtime.runs.take([member], "worker-killed-by-time-limit", h.now, LEASE) == [True]
    h.advance(timedelta(seconds=9))
    h.tick()  # the deadline passed: teardown requested, the Create still "running"
    h.advance(LEASE)
    h.tick()  # its lease lapsed: the worker is gone
    assert not [j for j in h.jobs if j.step is Step.CREATE], "a timed-out Create ran again"
    record = ex.refresh().record
    assert record.finished and record.last_error is not None
    assert record.last_error.code == "TimedOut"
    assert sum(h.service.creates.values()) == 0


def test_a_redelivery_to_the_same_worker_does_not_pass_for_the_run(harness_factory) -> None:
    # Celery restores an unacknowledged message with its id: the worker that runs it may
    # receive it again. Its reservation has the same name, but the run took the lease over.
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    member = run_member(execution_id, Claim(Step.CREATE, 0))
    runs, reservation = h.runtime.runs, "task-1@w1"
    assert runs.take([member], reservation, h.now, LEASE) == [True]  # received
    assert runs.start([member], f"{reservation}/p1", h.now, LEASE, reserved_by=reservation) == [
        True
    ]  # a pool process runs it
    assert runs.take([member], reservation, h.now, LEASE) == [False]  # received again
    assert runs.start([member], f"{reservation}/p2", h.now, LEASE, reserved_by=reservation) == [
        False
    ]
    h.steps.create(execution_id, 0, owner=reservation)  # the whole step, as the job runs it
    assert sum(h.service.creates.values()) == 0
    # Once the run's lease lapses (its worker died), the step may start again.
    h.advance(LEASE + timedelta(seconds=1))
    assert runs.start([member], "other@w2/p1", h.now, LEASE, reserved_by="other@w2") == [True]


def test_a_job_whose_publish_failed_is_sent_at_the_next_tick(harness_factory) -> None:
    # The broker refused the publish (away, or Redis out of memory): the claim is written,
    # and the job goes out as soon as a tick reaches the broker, not after the visibility
    # timeout.
    from kombu.exceptions import OperationalError

    h: Harness = harness_factory()
    sent = h.engine.outbox.publish
    refused: list[str] = []

    def broker_away(job: str, args: list, queue: str, *, time_limit=None) -> None:  # type: ignore[no-untyped-def]
        refused.append(job)
        raise OperationalError("OOM command not allowed when used memory > 'maxmemory'")

    h.engine.outbox.publish = broker_away  # type: ignore[method-assign]
    ex = h.client.submit(template("remote"), ints(x=1))
    with pytest.raises(OperationalError):
        h.tick()
    assert refused and h.jobs == []
    assert h.runtime.store.get(ex.id).claim == Claim(Step.CREATE, 0)  # type: ignore[union-attr]
    h.engine.outbox.publish = sent  # type: ignore[method-assign]
    h.tick()  # the broker takes messages again
    (job,) = h.jobs
    assert job.step is Step.CREATE and job.args == [[[ex.id, 0]]]
    h.drain()
    assert sum(h.service.creates.values()) == 1


def test_after_an_outage_a_claim_no_worker_holds_is_sent_again_within_a_lease(
    harness_factory,
) -> None:
    # Its job was published before the outage, and lost in it (the worker's bookkeeping of
    # the message was refused): no worker holds its lease.
    h: Harness = harness_factory()
    execution_id, _ = claimed_create(h)
    h.advance(timedelta(seconds=10))
    h.tick()
    assert h.jobs == [], "without an outage, a lost message waits for the visibility timeout"
    h.engine.upkeep.redis_failed()
    h.tick()
    assert h.jobs == [], "the workers get a lease's time to renew first"
    h.advance(LEASE + timedelta(seconds=1))
    h.tick()
    (again,) = h.jobs
    assert again.step is Step.CREATE and again.args == [[[execution_id, 0]]]
    h.advance(LEASE * 2)
    h.jobs.clear()
    h.tick()
    assert h.jobs == [], "one sweep per outage"


def test_a_tick_meeting_a_full_redis_stops_at_once_and_fails_nothing(
    harness_factory, redis_client, caplog
) -> None:
    # Redis reaches maxmemory mid-tick and refuses every write. That is an outage like a
    # lost connection:
    # the tick ends at the first refusal (the caller waits and tries again), instead of
    # failing executions (a write that is refused too) with a traceback for each.
    from redis.exceptions import OutOfMemoryError

    h: Harness = harness_factory()
    h.tick()  # the quotas are registered (the first tick's write)
    executions = [h.client.submit(template("remote"), ints(x=n)) for n in range(3)]
    before = {r.id: r.version for r in h.runtime.store.get_many([ex.id for ex in executions])}
    acquire = h.engine.lease.acquire

    def fills_up() -> bool:
        # Redis fills once the tick holds the lease (the lease's renewal is refused too).
        held = acquire()
        redis_client.config_set("maxmemory-policy", "noeviction")
        redis_client.config_set("maxmemory", 1)  # full: every write is refused now
        return held

    h.engine.lease.acquire = fills_up  # type: ignore[method-assign]
    try:
        with pytest.raises(OutOfMemoryError):
            h.tick()
    finally:
        redis_client.config_set("maxmemory", 0)
        h.engine.lease.acquire = acquire  # type: ignore[method-assign]
    assert "advancing failed" not in caplog.text
    assert "scheduler step" not in caplog.text
    after = {r.id: r.version for r in h.runtime.store.get_many([ex.id for ex in executions])}
    assert after == before, "nothing was written, and no attempt failed"
    h.tick()  # Redis takes writes again
    h.drain()
    assert [h.client.get(ex.id).phase for ex in executions] == [Phase.RUNNING] * 3
    assert sum(h.service.creates.values()) == 3


def test_a_get_write_back_whose_reply_was_lost_is_not_applied_again_over_the_next_get(
    harness_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The write landed but its reply was lost (a stall past the socket timeout), and the
    # scheduler claimed the next Get meanwhile: same claim, same attempt. The retry must
    # not apply the old observation again, which would clear the new Get's claim.
    import redis

    from scheduler._steps.writeback import WriteBack

    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    h.advance(timedelta(seconds=31))
    h.tick()
    (get,) = h.jobs
    h.jobs.clear()
    assert get.step is Step.GET
    real = WriteBack.update_many
    lost: list[bool] = []

    def reply_lost(self, items):  # type: ignore[no-untyped-def]
        real(self, items)
        if not lost:
            lost.append(True)
            h.advance(timedelta(seconds=31))
            h.tick()  # the next Get is claimed while the worker waits for its reply
            raise redis.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(WriteBack, "update_many", reply_lost)
    h.run(get)
    assert lost
    (again,) = h.jobs
    assert again.step is Step.GET
    assert ex.refresh().record.claim == Claim(Step.GET, 0), "the next Get's claim was cleared"
