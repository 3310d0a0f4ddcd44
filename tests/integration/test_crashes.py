"""Crashes: SIGKILLed workers and a SIGKILLed leader scheduler lose nothing."""

from __future__ import annotations

import json
import signal
import urllib.request
from datetime import timedelta
from pathlib import Path

from flyteidl.core import tasks_pb2

from plugins.core import Phase
from tests.helpers import wait_for
from tests.integration.jobservice import Ledger
from tests.integration.stack import Stack, wait_all
from tests.integration.templates import seconds, template


def no_token_left(stack: Stack) -> bool:
    client = stack.client()
    return client.runtime.quotas.metrics("http-job:default").held == 0


def test_worker_killed_in_the_middle_of_create(fresh_stack: Stack, ledger: Ledger) -> None:
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    client = fresh_stack.client()
    ledger.hold_creates.set()
    ex = client.submit(template("http_job"), seconds(0), project="p-kill-create")
    wait_for(ledger.held.is_set, timeout=60, what="Create to reach the service")
    fresh_stack.kill("w1")  # the whole worker, pool children included
    ledger.hold_creates.clear()
    fresh_stack.start_worker("w2")
    assert ex.wait(120) is Phase.SUCCESS
    assert ex.attempt == 0
    # The redelivered Create reached the service again, keyed by the same generated
    # name, so the service holds exactly one job for the one attempt.
    assert len(ledger.jobs) == 1
    wait_for(lambda: no_token_left(fresh_stack), timeout=30, what="the token to be released")


def test_worker_killed_in_the_middle_of_get(fresh_stack: Stack, ledger: Ledger) -> None:
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    client = fresh_stack.client()
    ledger.auto_finish = None
    ex = client.submit(template("http_job"), seconds(0), project="p-kill-get")
    wait_for(lambda: ex.refresh().phase is Phase.RUNNING, timeout=60, what="a first Get")
    ledger.hold_gets.set()
    ex.signal()
    wait_for(ledger.get_held.is_set, timeout=60, what="a Get to reach the service")
    fresh_stack.kill("w1")
    ledger.hold_gets.clear()
    (name,) = ledger.jobs
    ledger.finish(name)
    fresh_stack.start_worker("w2")
    assert ex.wait(120) is Phase.SUCCESS
    assert ledger.create_requests[name] == 1  # Get crashes never repeat a Create
    assert len(ledger.jobs) == 1
    wait_for(lambda: no_token_left(fresh_stack), timeout=30, what="the token to be released")


def test_leader_beat_killed_standby_takes_over(fresh_stack: Stack, ledger: Ledger) -> None:
    fresh_stack.start_worker("w1")
    beats = {name: fresh_stack.start_beat(name) for name in ("beat-a", "beat-b")}
    leader_owner = wait_for(fresh_stack.leader, timeout=60, what="a leader")
    pid = int(leader_owner.split(":")[1])
    leader = next(name for name, p in beats.items() if p.pid == pid)
    standby = next(name for name in beats if name != leader)
    client = fresh_stack.client()
    ledger.auto_finish = None
    before = [
        client.submit(template("http_job"), seconds(0), project="p-failover") for _ in range(2)
    ]
    wait_for(
        lambda: all(e.refresh().phase is Phase.RUNNING for e in before),
        timeout=60,
        what="jobs to run",
    )
    fresh_stack.kill(leader)
    for name in list(ledger.jobs):
        ledger.finish(name)
    after = [client.submit(tasks_pb2.TaskTemplate(type="echo")) for _ in range(3)]

    def standby_leads() -> bool:
        owner = fresh_stack.leader()  # None while nobody holds the lease
        return owner is not None and owner.split(":")[1] == str(beats[standby].pid)

    wait_for(standby_leads, timeout=30, what="the standby to take the lease")
    for ex in before:
        ex.signal()
    wait_all(before + after, timeout=120)
    assert all(e.phase is Phase.SUCCESS for e in before + after)
    assert len(ledger.jobs) == 2 and all(n == 1 for n in ledger.create_requests.values())
    wait_for(lambda: no_token_left(fresh_stack), timeout=30, what="tokens to be released")


def test_flower_lists_our_jobs(fresh_stack: Stack) -> None:
    port = fresh_stack.start_flower()
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")

    def api(path: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return json.loads(response.read())

    def flower_up() -> bool:
        try:
            api("/api/workers")
        except OSError:
            return False
        return True

    wait_for(flower_up, timeout=60, what="Flower's API")
    client = fresh_stack.client()
    ex = client.submit(tasks_pb2.TaskTemplate(type="echo"))
    failing = client.submit(template("flaky_create"), seconds(0))  # attempt 0's Create raises
    assert ex.wait(60) is Phase.SUCCESS
    assert failing.wait(60).is_failure()  # written before its job failed

    def job_of(execution_id: str, job: str) -> dict[str, object] | None:
        tasks = api("/api/tasks")
        assert isinstance(tasks, dict)
        return next(
            (
                t
                for t in tasks.values()
                if t.get("name") == job and execution_id in str(t.get("args"))
            ),
            None,
        )

    # The job writes SUCCESS before it returns (and wait() wakes on that write): Flower
    # shows it STARTED until the job's own success event comes.
    wait_for(lambda: (job_of(ex.id, "flyte_celery.do") or {}).get("state") == "SUCCESS",
             timeout=60, what="the do job to be SUCCESS")  # fmt: skip
    wait_for(lambda: (job_of(failing.id, "flyte_celery.create") or {}).get("state") == "FAILURE",
             timeout=60, what="the create job to be FAILURE")  # fmt: skip
    failed = job_of(failing.id, "flyte_celery.create") or {}
    message = str(failed.get("exception"))
    assert "JobFailedError" in message and failing.id in message
    assert "create raised" in message and failing.phase.name in message
    # Flower's task list shows each job's arguments (the execution ids) and exception.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/tasks", timeout=10) as response:
        page = response.read().decode()
    assert 'data-column="args"' in page and 'data-column="exception"' in page


def test_a_killed_worker_is_noticed_by_its_run_lease_not_the_visibility_timeout(
    redis_server, job_service, tmp_path, ledger: Ledger
) -> None:
    # A visibility timeout far longer than the test: only the run lease (2 s) can bring the
    # Create back after its worker dies.
    overrides = {"visibility_timeout": timedelta(minutes=10), "run_lease": timedelta(seconds=2)}
    stack = Stack(redis_server.url, tmp_path, job_service.url, overrides=overrides)
    try:
        stack.start_worker("w1")
        stack.start_beat("beat")
        client = stack.client()
        ledger.hold_creates.set()
        ex = client.submit(template("http_job"), seconds(0), project="p-lease")
        wait_for(ledger.held.is_set, timeout=60, what="Create to reach the service")
        stack.kill("w1")
        ledger.hold_creates.clear()
        stack.start_worker("w2")
        stack.wait_log("beat", "stopped renewing its run lease", timeout=120)
        assert ex.wait(120) is Phase.SUCCESS
        assert ex.attempt == 0
        assert len(ledger.jobs) == 1  # one remote job for the one attempt
        wait_for(lambda: no_token_left(stack), timeout=30, what="the token to be released")
    finally:
        stack.stop()


def test_a_hung_get_does_not_hold_the_attempt_past_its_timeout(
    fresh_stack: Stack, ledger: Ledger
) -> None:
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    client = fresh_stack.client()
    ledger.auto_finish = None
    ex = client.submit(template("http_job", timeout=6), seconds(0), project="p-hung-get")
    wait_for(lambda: ex.refresh().phase is Phase.RUNNING, timeout=60, what="the first Get")
    ledger.hold_gets.set()  # every Get from now on hangs until released
    ex.signal()
    wait_for(ledger.get_held.is_set, timeout=60, what="a Get to hang")
    try:
        # The attempt ends at its deadline, through Delete, while the Get still hangs.
        assert ex.wait(120) is Phase.PERMANENT_FAILURE
        assert ledger.hold_gets.is_set()
        err = ex.error()
        assert err is not None and err.code == "TimedOut"
        assert len(ledger.deletes) == 1
    finally:
        ledger.hold_gets.clear()
    wait_for(lambda: no_token_left(fresh_stack), timeout=30, what="the token to be released")


def _flytekit_folders(folder: Path) -> list[str]:
    # flytekit's own (flyte-XXXX, flyteXXXX), not ours (flyte-celery-task-..., -launcher-...).
    names = [entry.name for entry in folder.iterdir()]
    return [name for name in names if name.startswith("flyte") and "celery" not in name]


def test_processes_that_import_flytekit_leave_no_temporary_folders(
    fresh_stack: Stack, tmp_path: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    fresh_stack.extra_env["TMPDIR"] = str(temporary)
    fresh_stack.start_worker("w1")
    fresh_stack.start_beat("beat")
    done = fresh_stack.client().submit(template("echo"), seconds(0))
    assert done.wait(60) is Phase.SUCCESS
    # The worker imported flytekit (its connectors' entry point), and flytekit made its folders.
    wait_for(lambda: _flytekit_folders(temporary), timeout=30)
    for name in ("w1", "beat"):
        process = fresh_stack.processes.pop(name)
        process.send_signal(signal.SIGTERM)  # a warm shutdown, as an operator stops them
        process.wait(60)
    assert _flytekit_folders(temporary) == []
