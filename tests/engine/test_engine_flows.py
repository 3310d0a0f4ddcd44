"""The phase state machine end to end, in process, with injected time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from plugins.core import ErrorKind, Phase, PhaseInfo
from plugins.errors import InvalidSubmissionError, PluginNotFoundError
from scheduler._model import Claim, Step, WebAPIPhase
from scheduler._runtime import AttemptContext
from scheduler._steps.observe import Observation, apply_observations
from scheduler._steps.writeback import WriteBack
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished, ints, template


def test_async_plugin_succeeds_and_commits_outputs(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=7))
    h.drain()
    rec = ex.refresh().record
    assert rec.webapi.phase is WebAPIPhase.RESOURCES_CREATED
    assert ex.phase is Phase.RUNNING  # the first Get came at once
    assert h.service.creates == {rec.token: 1}
    h.service.jobs[rec.webapi.resource_meta and rec.token] = "SUCCEEDED"
    h.advance(timedelta(seconds=31))
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.outputs().literals["x"].scalar.primitive.integer == 7
    phases = [(e.attempt, e.phase, e.version) for e in ex.events()]
    assert phases == [
        (0, Phase.QUEUED, 0),
        (0, Phase.QUEUED, 2),
        (0, Phase.RUNNING, 1),
        (0, Phase.SUCCESS, 0),
    ]


def test_sync_plugin_succeeds_in_one_call(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("echo"), ints(x=3))
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.outputs() == h.runtime.data_store.read_protobuf(
        ex.record.inputs_uri + "/inputs.pb", type(ex.outputs())
    )
    assert [j.step for j in h.log] == [Step.DO]


def test_create_error_retries_with_a_new_generated_name(harness_factory) -> None:
    h: Harness = harness_factory()
    h.service.fail_creates = 1
    ex = h.client.submit(template("remote", retries=1), ints(x=1))
    h.drain()
    rec = ex.refresh().record
    assert rec.attempt == 1 and rec.user_failures == 1
    assert rec.last_error is not None and rec.last_error.code == "TaskFailedWithError"
    assert "service unavailable" in rec.last_error.message
    # The retry backs off (1 s, then doubling) instead of hammering a failing service.
    assert len(h.service.creates) == 1
    assert rec.not_before == h.now + timedelta(seconds=1)
    h.advance(timedelta(seconds=1))
    h.drain()
    names = list(h.service.creates)
    assert len(names) == 2 and names[0] != names[1]
    assert names[1] == rec.token
    h.service.jobs[names[1]] = "SUCCEEDED"
    h.client.signal(ex.id)
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert (0, Phase.RETRYABLE_FAILURE) in [(e.attempt, e.phase) for e in ex.events()]


def test_create_error_without_retries_fails_permanently(harness_factory) -> None:
    h: Harness = harness_factory()
    h.service.fail_creates = 5
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.kind is ErrorKind.USER and "service unavailable" in err.message


def test_quota_two_with_five_executions(harness_factory) -> None:
    h: Harness = harness_factory(quota=2)
    executions = [h.client.submit(template("remote"), ints(x=i)) for i in range(5)]
    h.drain()
    assert h.service.running() == 2
    waiting = [e for e in executions if e.refresh().phase is Phase.WAITING_FOR_RESOURCES]
    assert len(waiting) == 3
    h.succeed_jobs(executions, at_once=2, rounds=10)
    assert all(e.phase is Phase.SUCCESS for e in executions)
    assert len(h.service.creates) == 5
    metrics = h.runtime.quotas.metrics("remote:default")
    assert metrics.held == 0 and metrics.grants == 5 and metrics.releases == 5


def test_abort_deletes_once_and_frees_the_token(harness_factory) -> None:
    h: Harness = harness_factory(quota=1)
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    name = ex.refresh().record.token
    ex.abort("user changed their mind")
    h.drain()
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED
    assert h.service.deletes == [(name, "user changed their mind")]
    assert h.runtime.quotas.metrics("remote:default").held == 0


def test_abort_while_waiting_for_a_token(harness_factory) -> None:
    h: Harness = harness_factory(quota=1)
    first = h.client.submit(template("remote"), ints(x=1))
    # Pending work is served oldest first; at the same instant the order is the ids'.
    h.advance(timedelta(milliseconds=1))
    second = h.client.submit(template("remote"), ints(x=2))
    h.drain()
    assert second.refresh().phase is Phase.WAITING_FOR_RESOURCES
    second.abort()
    h.drain()
    assert second.refresh().phase is Phase.ABORTED
    assert h.service.deletes == [(None, "Aborted by user")]  # Delete with no handle, as Flyte
    assert first.refresh().phase is Phase.RUNNING


def test_abort_before_the_launch_deletes_on_the_plugins_queue(harness_factory) -> None:
    # Aborted before the scheduler first saw it: the record names no plugin yet. The
    # Delete (with no handle, as Flyte) must go to the plugin's queue; a queue named after
    # no plugin has no worker, and the execution would wait there forever.
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    ex.abort("changed my mind")
    h.tick()
    (job,) = h.jobs
    assert job.step is Step.DELETE and job.queue == h.runtime.queues.name("remote")
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED
    assert h.service.deletes == [(None, "changed my mind")]


def test_max_system_failures_after_a_successful_get(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING  # one Get succeeded
    h.service.fail_gets_after = h.service.gets
    for _ in range(3):  # maxSystemFailures is 2: the third failure ends it
        h.advance(timedelta(seconds=31))
        h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "AutoRefreshCacheFailed"
    assert f"get #{h.service.gets} timed out" in err.message


def test_timeout_deletes_then_fails(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote", timeout=10), ints(x=1))
    h.drain()
    h.advance(timedelta(seconds=11))
    h.drain()
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    assert ex.error() is not None and ex.error().code == "TimedOut"
    assert len(h.service.deletes) == 1
    assert (0, Phase.RETRYABLE_FAILURE) in [(e.attempt, e.phase) for e in ex.events()]


def test_unknown_task_type_is_rejected_at_submit(harness_factory) -> None:
    h: Harness = harness_factory()
    with pytest.raises(PluginNotFoundError, match="'spark'"):
        h.client.submit(template("spark"), ints(x=1))


def test_malformed_inputs_fail_clearly(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.runtime.data_store.write_raw(ex.record.inputs_uri + "/inputs.pb", b"\xff\xfe garbage")
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and "READ_FAILED" not in err.code
    assert "inputs.pb" in err.message and "failed to read" in err.message


def test_duplicate_create_jobs_call_create_once(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.tick()
    (job,) = h.jobs
    h.jobs.clear()
    h.run(job)
    h.run(job)  # a redelivered message finds its claim gone
    assert sum(h.service.creates.values()) == 1
    del ex


def test_signal_makes_completion_visible_without_waiting(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    h.service.jobs[ex.refresh().record.token] = "SUCCEEDED"
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING  # the resync (30 s) has not come
    ex.signal()
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS


def test_system_failures_retry_with_backoff(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    rec = ex.record
    h.steps.writeback.finish(rec.id, None, PhaseInfo.system_retryable_failure("Boom", "node lost"))
    rec = ex.refresh().record
    assert rec.attempt == 1 and rec.system_failures == 1 and rec.not_before is not None
    h.drain()
    assert sum(h.service.creates.values()) == 0  # backing off
    h.advance(timedelta(seconds=1.5))
    h.drain()
    assert sum(h.service.creates.values()) == 1


def test_an_abort_during_a_timeouts_delete_ends_aborted(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote", timeout=10, retries=3), ints(x=1))
    h.drain()
    h.service.on_delete = lambda: ex.abort("stop it")  # lands while Delete runs
    h.advance(timedelta(seconds=11))
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED  # not retried as a timeout
    assert ex.attempt == 0
    assert len(h.service.deletes) == 1


def test_an_abort_pending_when_an_attempt_fails_ends_aborted(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote", retries=3), ints(x=1))
    h.drain()
    name = ex.refresh().record.token
    h.advance(timedelta(seconds=31))
    h.tick()  # a Get is claimed and published
    get_jobs = [j for j in h.jobs if j.step is Step.GET]
    assert get_jobs
    h.jobs.clear()
    ex.abort("stop")  # while the Get is in flight
    h.service.jobs[name] = "FAILED"  # and the Get reports a retryable failure
    for job in get_jobs:
        h.run(job)
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED  # no new attempt
    assert ex.attempt == 0
    assert len(h.service.creates) == 1


def test_signals_are_ignored_during_teardown(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    ex.abort("stop")
    before = ex.refresh().record
    ex.signal()
    assert ex.refresh().record.next_get_at == before.next_get_at is None
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED


def test_a_core_plugin_runs_round_by_round_with_its_state(harness_factory, core_calls) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("counter"), ints(x=5))
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert core_calls.rounds == [1, 2, 3]  # the state put in one round is seen in the next
    assert core_calls.finalizes == 1
    assert ex.outputs().literals["x"].scalar.primitive.integer == 5
    assert [(e.phase, e.version) for e in ex.events()][-3:] == [
        (Phase.RUNNING, 1),
        (Phase.RUNNING, 2),
        (Phase.SUCCESS, 0),
    ]
    assert [j.step for j in h.log].count(Step.HANDLE) == 3


def test_a_core_plugin_is_aborted_then_finalized(harness_factory, core_calls) -> None:
    h: Harness = harness_factory()
    core_calls.rounds_to_finish = 1000
    ex = h.client.submit(template("counter"), ints(x=1))
    h.tick()  # the first round is published
    h.run(h.jobs.pop())
    ex.abort("enough")
    h.drain()
    assert ex.refresh().phase is Phase.ABORTED
    assert (core_calls.aborts, core_calls.finalizes) == (1, 1)


def test_a_create_for_a_plugin_that_is_no_longer_async_fails_the_attempt(harness_factory) -> None:
    # An older deployment claimed Create for a plugin id that is a sync plugin now: the job
    # must fail the attempt, not escape and leave its claim to be re-published forever.
    h: Harness = harness_factory()
    ex = h.client.submit(template("echo", inputs=()), {})
    rec = ex.record
    claimed = replace(
        rec, plugin_id="echo", claim=Claim(Step.CREATE, 0), claimed_at=h.now, pending=False
    )
    assert h.runtime.store.transition(rec, claimed) is not None
    h.steps.create(rec.id, 0)
    after = ex.refresh().record
    assert after.claim is None
    assert ex.phase is Phase.PERMANENT_FAILURE
    assert after.last_error is not None
    assert after.last_error.code == "TaskFailedWithError"
    assert "is a SYNC plugin, not ASYNC" in after.last_error.message


@pytest.mark.parametrize(
    ("project", "domain", "name"), [("..", "..", "x"), ("a", ".", "x"), ("a/./..", "d", "x")]
)
def test_ids_that_escape_the_storage_root_are_refused_at_submit(
    harness_factory, tmp_path, project: str, domain: str, name: str
) -> None:
    h: Harness = harness_factory()
    with pytest.raises(InvalidSubmissionError, match=r"execution (project|domain) must not"):
        h.client.submit(template("echo", inputs=()), {}, project=project, domain=domain, name=name)
    assert list(tmp_path.rglob("*.pb")) == []  # nothing written, inside the root or out


def test_executions_whose_ids_join_alike_get_their_own_tokens_and_jobs(harness_factory) -> None:
    h: Harness = harness_factory(quota=2)
    one = h.client.submit(template("remote"), ints(x=1), project="ml-dev", domain="team", name="x")
    two = h.client.submit(template("remote"), ints(x=2), project="ml", domain="dev-team", name="x")
    h.drain()
    assert one.refresh().record.token != two.refresh().record.token
    assert len(h.service.creates) == 2
    one.abort("only this one")
    h.drain()
    h.drain()
    assert one.refresh().phase is Phase.ABORTED
    assert two.refresh().phase is Phase.RUNNING


def test_a_delete_that_keeps_failing_ends_aborted_with_the_failure_recorded(
    harness_factory,
) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING

    def refuse() -> None:
        raise ConnectionError("the remote refuses deletes")

    h.service.on_delete = refuse
    ex.abort("no longer needed")
    h.until(finished(ex))
    assert ex.phase is Phase.ABORTED
    # One Delete and two retries (max_system_retries=2), backing off between them.
    assert len(h.service.deletes) == 3
    err = ex.error()
    assert err is not None
    assert (err.code, err.kind) == ("CleanupFailed", ErrorKind.SYSTEM)
    assert "cleanup failed after 3 attempts" in err.message
    assert "the remote refuses deletes" in err.message
    last = ex.events()[-1]
    assert last.phase is Phase.ABORTED and "cleanup failed" in last.reason
    assert "no longer needed" in last.reason


def test_a_batched_observation_that_loses_its_write_is_applied_to_the_latest_record(
    harness_factory,
) -> None:
    # A batch of RUNNING observations is written from the records as the Get read them;
    # one changed meanwhile (here: signalled) loses that write and is applied again.
    h: Harness = harness_factory()
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    h.advance(timedelta(seconds=31))
    h.tick()  # a Get is claimed
    claimed = ex.refresh().record
    assert claimed.claim is not None and claimed.claim.step is Step.GET
    ex.signal()  # someone writes the record while the Get is in flight
    loaded = h.runtime.plugins.get("remote")
    actx: AttemptContext = h.runtime.contexts.attempt(claimed)
    seen = Observation(info=PhaseInfo.running(7))
    apply_observations(WriteBack(h.runtime), loaded, [(claimed, seen, actx)])
    after = ex.refresh().record
    assert after.claim is None and after.phase_version == 7  # the observation landed
    assert after.version > claimed.version + 1  # after the signal's write, not instead of it


def test_a_first_get_that_ends_the_attempt_keeps_the_launch_in_the_events(
    harness_factory,
) -> None:
    # No failed Get tolerated: the Get that comes with Create ends the attempt at once.
    h: Harness = harness_factory(plugin_configs={"remote": {"caching": {"maxSystemFailures": 0}}})
    h.service.fail_gets_after = 0
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    phases = [(e.attempt, e.phase, e.version) for e in ex.events()]
    assert (0, Phase.QUEUED, 2) in phases, phases  # "launched": Create returned a handle
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "AutoRefreshCacheFailed"
