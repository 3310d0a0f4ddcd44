"""Executions on real `celery worker` and `celery beat` processes, against a real HTTP service."""

from __future__ import annotations

import time

import pytest
from flyteidl.core import tasks_pb2

from plugins.core import Phase, PluginRegistry
from plugins.errors import PluginNotFoundError
from scheduler import Client, InvalidSubmissionError
from tests.helpers import wait_for
from tests.integration import plugins as test_plugins
from tests.integration.conftest import BROKERS
from tests.integration.jobservice import Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, submit_with_raw_inputs, template

# Every flow runs on both brokers: Redis (the default) and RabbitMQ.
pytestmark = pytest.mark.parametrize("broker", BROKERS, indirect=True, scope="module")


@pytest.fixture
def client(stack: Stack) -> Client:
    return stack.client()


def test_async_plugin_succeeds(client: Client, ledger: Ledger) -> None:
    ex = client.submit(template("http_job"), seconds(0), project="p-async")
    assert ex.wait(60) is Phase.SUCCESS
    assert ex.outputs().literals["seconds"].scalar.primitive.float_value == 0
    assert len(ledger.jobs) == 1
    assert [e.phase for e in ex.events()][-1] is Phase.SUCCESS


def test_core_plugin_runs_round_by_round(client: Client) -> None:
    ex = client.submit(tasks_pb2.TaskTemplate(type="rounds"), seconds(4.0))
    assert ex.wait(60) is Phase.SUCCESS
    assert ex.outputs().literals["seconds"].scalar.primitive.float_value == 4.0
    assert [(e.phase, e.version) for e in ex.events()][-3:] == [
        (Phase.RUNNING, 1),
        (Phase.RUNNING, 2),
        (Phase.SUCCESS, 0),
    ]


def test_sync_plugin_succeeds(client: Client) -> None:
    ex = client.submit(tasks_pb2.TaskTemplate(type="echo"), seconds(1.5))
    assert ex.wait(60) is Phase.SUCCESS
    assert ex.outputs().literals["seconds"].scalar.primitive.float_value == 1.5


def test_create_error_is_retried_with_a_new_generated_name(client: Client, ledger: Ledger) -> None:
    ex = client.submit(template("flaky_create", retries=1), seconds(0))
    assert ex.wait(60) is Phase.SUCCESS
    assert ex.attempt == 1
    events = [(e.attempt, e.phase) for e in ex.events()]
    assert (0, Phase.RETRYABLE_FAILURE) in events
    (name,) = ledger.jobs  # attempt 0 never reached the service
    assert name.endswith("-1")  # the attempt number is part of the generated name


def test_quota_two_with_eight_executions(client: Client, ledger: Ledger) -> None:
    executions = [
        client.submit(template("http_job"), seconds(2), project="p-quota") for _ in range(8)
    ]
    wait_all(executions, timeout=180)
    assert all(e.phase is Phase.SUCCESS for e in executions)
    assert ledger.max_running == 2  # contended, and never more than the quota
    assert len(ledger.jobs) == 8


def test_project_and_domain_caps_hold(client: Client, ledger: Ledger) -> None:
    caps = {"project_cap": 2, "domain_cap": 1}
    spread = [("flyte", "dev")] * 3 + [("flyte", "development")] * 2 + [("flytesnacks", "dev")] * 3
    executions = [
        client.submit(template("http_job_capped", custom=caps), seconds(2), project=p, domain=d)
        for p, d in spread
    ]
    wait_all(executions, timeout=240)
    assert all(e.phase is Phase.SUCCESS for e in executions)
    assert max(ledger.max_by_project.values()) <= 2
    assert max(ledger.max_by_domain.values()) <= 1
    assert ledger.max_by_project["flyte"] == 2  # the project cap bound, not the domain one alone


def test_abort_deletes_once_and_frees_the_token(
    stack: Stack, client: Client, ledger: Ledger
) -> None:
    ledger.auto_finish = None  # jobs run until told otherwise
    ex = client.submit(template("http_job"), seconds(0), project="p-abort")
    wait_for(lambda: ex.refresh().phase is Phase.RUNNING, timeout=60, what="the job to run")
    ex.abort("no longer needed")
    assert ex.wait(60) is Phase.ABORTED
    (name,) = ledger.jobs
    assert ledger.deletes == [name]
    metrics = client.runtime.quotas.metrics("http-job:default")
    assert metrics.held == 0
    assert ex.events()[-1].reason == "no longer needed"


def test_max_system_failures_after_a_successful_get(client: Client, ledger: Ledger) -> None:
    ledger.auto_finish = None
    ex = client.submit(template("http_job"), seconds(0), project="p-getfail")
    wait_for(lambda: ex.refresh().phase is Phase.RUNNING, timeout=60, what="a successful Get")
    (name,) = ledger.jobs
    ledger.fail_gets.add(name)
    # maxSystemFailures is 2 for this plugin: the third failed Get ends the attempt.
    for expected in range(1, 4):
        before = ledger.gets[name]
        ex.signal()
        wait_for(lambda b=before: ledger.gets[name] > b, timeout=30, what=f"failed Get #{expected}")
    assert ex.wait(30) is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "AutoRefreshCacheFailed"
    assert f"status backend unavailable for {name}" in err.message


def test_timeout(client: Client, ledger: Ledger) -> None:
    ledger.auto_finish = None
    ex = client.submit(template("http_job", timeout=1), seconds(0), project="p-timeout")
    assert ex.wait(60) is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "TimedOut"
    assert len(ledger.deletes) == 1


def test_unknown_task_type_and_malformed_inputs_fail_clearly(stack: Stack, client: Client) -> None:
    with pytest.raises(PluginNotFoundError, match="unknown task type 'spark'"):
        client.submit(tasks_pb2.TaskTemplate(type="spark"))
    with pytest.raises(InvalidSubmissionError, match="missing inputs: seconds"):
        client.submit(template("http_job"), {})
    # A client that knows a plugin the workers lack: the engine fails the execution.
    registry = PluginRegistry()
    registry.register_all(test_plugins.ENTRIES)
    registry.register(test_plugins.ONLY_IN_CLIENT)
    ghost = stack.client(registry).submit(tasks_pb2.TaskTemplate(type="ghost"))
    assert ghost.wait(60) is Phase.PERMANENT_FAILURE
    ghost_error = ghost.error()
    assert ghost_error is not None and "ghost" in ghost_error.message
    # A malformed inputs.pb, written before the execution exists (storage corruption).
    bad = submit_with_raw_inputs(client, template("http_job"), b"\xff\xfe not protobuf", "p-bad")
    assert bad.wait(60) is Phase.PERMANENT_FAILURE
    bad_error = bad.error()
    assert bad_error is not None and "inputs.pb" in bad_error.message
    assert "READ_FAILED" in bad_error.message or "failed to read" in bad_error.message
    assert all(stack.alive().values())
    ok = client.submit(tasks_pb2.TaskTemplate(type="echo"))
    assert ok.wait(60) is Phase.SUCCESS  # and everything keeps running


def test_signal_makes_completion_visible_without_waiting(client: Client, ledger: Ledger) -> None:
    ledger.auto_finish = None
    ex = client.submit(template("http_job"), seconds(0), project="p-signal")
    wait_for(lambda: ex.refresh().phase is Phase.RUNNING, timeout=60, what="the job to run")
    (name,) = ledger.jobs
    ledger.finish(name)
    started = time.monotonic()
    ex.signal()
    assert ex.wait(4) is Phase.SUCCESS  # well inside the 5 s resync
    assert time.monotonic() - started < 5


def test_write_limiter_caps_creates_across_two_workers(client: Client, ledger: Ledger) -> None:
    executions = [client.submit(template("http_job_limited"), seconds(0)) for _ in range(15)]
    wait_all(executions, timeout=120)
    assert all(e.phase is Phase.SUCCESS for e in executions)
    times = sorted(ledger.create_times)
    assert len(times) == 15
    start = times[0]
    # qps 2, burst 5: by t seconds after the first, at most 5 + 2t creates (plus one for edges).
    for i, t in enumerate(times, start=1):
        assert i <= 5 + 2 * (t - start) + 1, (i, t - start)
