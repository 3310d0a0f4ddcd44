"""Backpressure: launches stop while a plugin's queue holds FLYTE_CELERY_QUEUE_BACKLOG jobs.

The harness counts a queue's jobs as a broker would: those published and not run yet.
"""

from __future__ import annotations

from datetime import timedelta

from plugins.builtin import ECHO
from plugins.core import Phase, PluginRegistry, PluginSetupContext
from scheduler import Submission
from scheduler._model import Step
from scheduler._runtime import Runtime
from scheduler.console import DeploymentCollector
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template

_WAITING = "waiting for a worker: queue flyte-celery.remote holds"


def _in_line(executions: list) -> int:
    """How many of ``executions`` wait for room in their queue (refreshed)."""
    return sum(1 for ex in executions if ex.refresh().record.waiting_queue)


def _room_gauge(runtime: Runtime) -> list[tuple[dict[str, str], float]]:
    """The exporter's ``flyte_celery_waiting_for_room`` samples: (labels, value)."""
    return [
        (sample.labels, sample.value)
        for family in DeploymentCollector(runtime).collect()
        if family.name == "flyte_celery_waiting_for_room"
        for sample in family.samples
    ]


def _run(h: Harness, count: int) -> None:
    """Run the ``count`` oldest published jobs, as a worker would."""
    jobs, h.jobs[:] = h.jobs[:count], h.jobs[count:]
    for job in jobs:
        h.run(job)


def test_launches_stop_at_the_backlog_and_go_on_first_come_first_served(
    harness_factory,
) -> None:
    h: Harness = harness_factory(queue_backlog=2, create_batch_size=1)
    executions = h.client.submit_many([Submission(template("remote"), ints(x=n)) for n in range(6)])
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE, Step.CREATE]
    assert _in_line(executions) == 4
    waiting = next(ex for ex in executions if ex.record.waiting_queue)
    assert waiting.phase is Phase.QUEUED
    assert [e.phase for e in waiting.events()] == [Phase.QUEUED]  # no event for the wait
    assert _WAITING in waiting.record.reason
    assert "holds 2 jobs (FLYTE_CELERY_QUEUE_BACKLOG is 2)" in waiting.record.reason
    h.tick()
    assert len(h.jobs) == 2  # still full: nothing more goes out
    assert ({"queue": "flyte-celery.remote"}, 4) in _room_gauge(h.runtime)

    _run(h, 1)  # one job taken: room for one launch, of one waiting
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE, Step.CREATE]
    assert _in_line(executions) == 3
    h.advance(timedelta(seconds=1))
    late = h.client.submit(template("remote"), ints(x=9))
    _run(h, 2)
    h.tick()  # the queue has room, but three wait before the newcomer: it waits too
    assert late.refresh().record.waiting_queue == "flyte-celery.remote"

    h.until(lambda: len(h.service.jobs) == 7)
    assert list(h.service.jobs)[-1].startswith(late.id.replace("/", "-"))  # created last
    assert sorted(h.service.creates.values()) == [1] * 7
    h.succeed_jobs([*executions, late], at_once=7)
    assert {ex.refresh().phase for ex in [*executions, late]} == {Phase.SUCCESS}
    assert h.runtime.store.indexes.waiting_for_room_counts(["flyte-celery.remote"]) == {
        "flyte-celery.remote": 0
    }


def test_gets_and_deletes_go_out_into_a_full_queue(harness_factory) -> None:
    h: Harness = harness_factory(queue_backlog=1, create_batch_size=1)
    running = h.client.submit(template("remote"), ints(x=0))
    h.until(lambda: running.refresh().phase is Phase.RUNNING)
    pair = h.client.submit_many([Submission(template("remote"), ints(x=n)) for n in (1, 2)])
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE]  # the queue is full now
    waiting, queued = sorted(pair, key=lambda ex: not ex.refresh().record.waiting_queue)
    assert waiting.record.waiting_queue and not queued.record.waiting_queue

    h.advance(timedelta(seconds=31))
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE, Step.GET]
    running.abort("stop")
    waiting.abort("not needed")
    h.tick()
    # Flyte calls Delete for one aborted before its launch too (with no handle).
    assert [job.step for job in h.jobs][2:] == [Step.DELETE, Step.DELETE]
    h.until(lambda: waiting.refresh().record.finished)
    assert waiting.refresh().phase is Phase.ABORTED
    assert waiting.id not in str(list(h.service.jobs))
    h.until(lambda: running.refresh().record.finished)
    assert running.refresh().phase is Phase.ABORTED
    h.until(lambda: queued.refresh().phase is Phase.RUNNING)


def test_a_sync_plugin_launches_one_job_per_execution(harness_factory) -> None:
    h: Harness = harness_factory(queue_backlog=3)
    executions = h.client.submit_many([Submission(template("echo"), ints(x=n)) for n in range(5)])
    h.tick()
    assert [job.step for job in h.jobs] == [Step.DO] * 3
    assert _in_line(executions) == 2
    h.until(lambda: all(ex.refresh().phase is Phase.SUCCESS for ex in executions))


def test_no_backlog_limit_launches_everything_at_once(harness_factory) -> None:
    h: Harness = harness_factory(queue_backlog=0, create_batch_size=1)
    h.client.submit_many([Submission(template("remote"), ints(x=n)) for n in range(6)])
    h.tick()
    assert [job.step for job in h.jobs] == [Step.CREATE] * 6


def test_a_line_of_a_plugin_since_removed_fails_by_name(harness_factory) -> None:
    h: Harness = harness_factory(queue_backlog=1, create_batch_size=1)
    executions = h.client.submit_many([Submission(template("remote"), ints(x=n)) for n in range(3)])
    h.tick()
    waiting = [ex for ex in executions if ex.refresh().record.waiting_queue]
    assert len(waiting) == 2
    # A new deployment without the plugin: what waited for its queue must not wait forever.
    registry = PluginRegistry(PluginSetupContext())
    registry.register(ECHO)
    settings = h.runtime.settings
    h.engine.stop()  # the old deployment's scheduler hands over
    without = Harness(Runtime(settings, h.runtime.redis, registry, clock=h.clock), h.service)
    # Its line still shows: the new deployment has no such queue, but the line was noted.
    assert ({"queue": "flyte-celery.remote"}, 2) in _room_gauge(without.runtime)
    # Each tick launches what the queue has room for: then each fails, naming the plugin.
    without.until(lambda: all(ex.refresh().record.finished for ex in waiting))
    for ex in waiting:
        record = ex.refresh().record
        assert record.finished and ex.phase.is_failure()
        assert record.last_error is not None and "remote" in record.last_error.message
