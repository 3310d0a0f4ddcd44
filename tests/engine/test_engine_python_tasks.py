"""The python-task plugin through the real Engine and Steps (in process, time injected)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugins.core import ErrorKind, Phase
from plugins.errors import ExecutionFailedError
from scheduler import InvalidSubmissionError
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.tasks import sample


def test_a_python_task_runs_and_returns_native_values(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.add, {"a": 40})
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.result(timeout=1) == 42  # b took its default
    stats = h.client.submit(sample.summarize, {"values": [1.0, 2.0]})
    h.drain()
    assert stats.result(timeout=1) == sample.Stats(total=3, mean=1.5)
    # Without the task object, the result is rebuilt from the template's interface.
    again = h.client.get(stats.id)
    rebuilt = again.result(timeout=1)
    assert (rebuilt.total, rebuilt.mean) == (3, 1.5)


def test_a_user_exception_is_a_user_error_with_its_traceback(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.explode, {"message": "kaboom"})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.kind is ErrorKind.USER
    assert err.code == "USER:ValueError"
    assert "Traceback (most recent call last)" in err.message
    assert "kaboom" in err.message and "def explode" not in err.message
    with pytest.raises(ExecutionFailedError) as caught:
        ex.result(timeout=1)
    assert caught.value.code == "USER:ValueError"
    assert caught.value.kind == "USER"
    assert "kaboom" in caught.value.message
    assert "raise ValueError(message)" in caught.value.message


def test_user_errors_consume_retries(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.flaky, {"succeed_on": 2})
    h.until(finished(ex))  # retries back off: 1 s, then 2 s
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.result(timeout=1) == 2
    assert ex.record.user_failures == 2
    too_flaky = h.client.submit(sample.flaky, {"succeed_on": 9})
    h.until(finished(too_flaky))
    assert too_flaky.refresh().phase is Phase.PERMANENT_FAILURE
    assert too_flaky.attempt == 3
    assert "attempt 3 fails" in (too_flaky.error() or pytest.fail("no error")).message


def test_ignore_outputs_succeeds_without_outputs(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.nothing, {"flag": True})
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.result(timeout=1) is None
    assert not ex.outputs().literals


def test_bad_inputs_are_refused_at_submit_naming_the_input(harness_factory) -> None:
    h: Harness = harness_factory()
    with pytest.raises(InvalidSubmissionError, match="input 'a'"):
        h.client.submit(sample.add, {"a": "forty"})
    with pytest.raises(InvalidSubmissionError, match="missing inputs: a"):
        h.client.submit(sample.add, {})
    with pytest.raises(InvalidSubmissionError, match="has no input 'z'"):
        h.client.submit(sample.add, {"a": 1, "z": 2})
    assert h.runtime.store.indexes.count() == 0


def test_a_malformed_python_task_template_fails_clearly(harness_factory) -> None:
    h: Harness = harness_factory()
    template = sample.whoami.to_task_template()
    args = template.custom.fields["loader_args"].list_value.values
    args[1].string_value = "no_such_mod_q"
    del args[4:]  # no task-file to fall back on
    ex = h.client.submit(template, {})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "TaskLoadFailed"
    assert "no_such_mod_q" in err.message


def test_context_and_environment_reach_the_function(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.whoami, {}, name="ctxcheck")
    env = h.client.submit(sample.with_env, {})
    h.drain()
    assert ex.result(timeout=1) == "default/development/ctxcheck:0:"
    assert env.result(timeout=1) == "set"


def test_files_round_trip_through_storage(harness_factory) -> None:
    h: Harness = harness_factory()
    made = h.client.submit(sample.write_file, {"text": "remote hello"})
    h.drain()
    f = made.result(timeout=1)
    assert f.remote_source is not None and "storage/raw" in f.remote_source
    with f.open("rb") as fh:
        assert fh.read() == b"remote hello"
    read = h.client.submit(sample.read_file, {"f": f})
    h.drain()
    assert read.result(timeout=1) == "remote hello"


def test_python_tasks_use_the_result_cache(harness_factory) -> None:
    h: Harness = harness_factory()
    first = h.client.submit(sample.summarize, {"values": [2.0], "note": "a"})
    h.drain()
    second = h.client.submit(sample.summarize, {"values": [2.0], "note": "ignored"})
    h.drain()
    assert second.result(timeout=1) == first.result(timeout=1)
    assert second.cache_status == "HIT"
    assert first.cache_status == "POPULATED"


def test_a_timeout_ends_a_sync_call_that_is_still_running(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.overslept, {"seconds": 0.0})
    h.tick()  # the do job is published but has not run: the call is "in flight"
    [job] = h.jobs
    h.jobs.clear()
    h.advance(timedelta(seconds=2))
    h.tick()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    assert "timed out after 1s" in (ex.error() or pytest.fail("no error")).message
    h.run(job)  # the late call's result is dropped by the claim check
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE


def test_sys_exit_in_a_task_fails_the_task_not_the_worker(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.exits, {"code": 3})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "USER:SystemExit"
