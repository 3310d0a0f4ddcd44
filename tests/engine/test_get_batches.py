"""Get jobs: as large as a plugin's ``caching.workers``, and ticks that wait for full ones.

A prefork worker process runs one job at a time, so a plugin runs ``caching.workers``
calls at once only when a Get job brings that many; and a tick that claims a full job's
worth and then a small remainder at once would hand a worker process half-empty jobs.
"""

from __future__ import annotations

from datetime import timedelta

from plugins.core import Phase
from scheduler import Submission
from scheduler._engine.gets import FULL_JOB_COALESCE, GET_COALESCE
from scheduler._model import Step
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template


def running(h: Harness, n: int) -> list[str]:
    """``n`` executions of the remote plugin, created and RUNNING; their ids."""
    executions = h.client.submit_many([Submission(template("remote"), ints(x=i)) for i in range(n)])
    h.drain()
    assert {ex.refresh().phase for ex in executions} == {Phase.RUNNING}
    return [ex.id for ex in executions]


def about(wait: timedelta, expected: timedelta) -> bool:
    """Equal to the millisecond the due index keeps times in."""
    return abs(wait - expected) < timedelta(milliseconds=1)


def get_jobs(h: Harness) -> list[int]:
    sizes = [len(job.args[0]) for job in h.jobs if job.step is Step.GET]
    h.jobs.clear()
    return sizes


WIDE = {"remote": {"caching": {"workers": 12, "pollBackoff": "0s"}}}
"""The remote plugin runs 12 calls at once; every other plugin of the harness 10 (Flyte's
default), so with a Get batch size of 10 a whole job is 12 Gets. Its Gets come every resync
from the start (no back-off after Create), so executions created together fall due together."""


def test_a_get_job_carries_the_plugins_workers_when_more_than_the_batch_size(
    harness_factory,
) -> None:
    h: Harness = harness_factory(get_batch_size=10, plugin_configs=WIDE)
    assert h.runtime.plugins.get_batch_size("remote") == 12
    assert h.runtime.plugins.get_batch_size("echo") == 10
    running(h, 30)
    h.advance(timedelta(seconds=30))
    assert h.tick() == GET_COALESCE  # whole jobs; no whole job more is coming
    assert get_jobs(h) == [12, 12]
    h.advance(GET_COALESCE)
    h.tick()
    assert get_jobs(h) == [6]  # the rest goes as it is


def test_the_batch_size_holds_for_a_plugin_with_fewer_workers(harness_factory) -> None:
    h: Harness = harness_factory(
        get_batch_size=10,
        plugin_configs={"remote": {"caching": {"workers": 4, "pollBackoff": "0s"}}},
    )
    assert h.runtime.plugins.get_batch_size("remote") == 10
    running(h, 23)
    h.advance(timedelta(seconds=30))
    h.tick()
    assert get_jobs(h) == [10, 10]
    h.advance(GET_COALESCE)
    h.tick()
    assert get_jobs(h) == [3]


def test_a_tick_waits_until_a_whole_job_is_due_then_claims_it(harness_factory) -> None:
    h: Harness = harness_factory(get_batch_size=10, plugin_configs=WIDE)
    # 14 executions created 50 ms apart: their Gets fall due 50 ms apart too.
    for _ in range(14):
        running(h, 1)
        h.advance(timedelta(milliseconds=50))
    h.advance(timedelta(seconds=30) - timedelta(milliseconds=700))  # the first is due now
    wait = h.tick()
    # One is due, and the twelfth falls due 550 ms from now: claim nothing yet.
    assert get_jobs(h) == []
    assert about(wait, timedelta(milliseconds=550))
    h.advance(timedelta(milliseconds=550))
    wait = h.tick()
    assert get_jobs(h) == [12]  # one whole job
    # Two are left, and no whole job will come: the usual coalescing.
    assert wait == GET_COALESCE


def test_a_backlog_of_whole_jobs_is_claimed_without_waiting(harness_factory) -> None:
    h: Harness = harness_factory(get_batch_size=10, plugin_configs=WIDE)
    running(h, 30)
    h.advance(timedelta(seconds=30))
    h.engine.outbox.batch = 12  # a tick claims at most one job: a backlog remains
    assert h.tick() == timedelta(0)
    assert get_jobs(h) == [12]
    assert h.tick() == GET_COALESCE
    assert get_jobs(h) == [12]
    h.advance(GET_COALESCE)
    h.tick()
    assert get_jobs(h) == [6]


def test_no_get_waits_longer_than_the_full_job_coalescing(harness_factory) -> None:
    h: Harness = harness_factory(get_batch_size=10, plugin_configs=WIDE)
    running(h, 2)
    h.advance(FULL_JOB_COALESCE + timedelta(milliseconds=500))
    running(h, 20)
    # The first two have waited FULL_JOB_COALESCE when the twenty fall due in 500 ms.
    h.advance(timedelta(seconds=30) - timedelta(milliseconds=500))
    wait = h.tick()
    assert get_jobs(h) == [2]
    assert about(wait, timedelta(milliseconds=500))  # then the next whole job is due


def test_sparse_gets_are_claimed_as_they_fall_due(harness_factory) -> None:
    h: Harness = harness_factory(get_batch_size=10, plugin_configs=WIDE)
    for _ in range(3):
        running(h, 1)
        h.advance(FULL_JOB_COALESCE)
    h.advance(timedelta(seconds=30) - 3 * FULL_JOB_COALESCE)
    wait = h.tick()
    assert get_jobs(h) == [1]
    assert about(wait, FULL_JOB_COALESCE)  # the next falls due in a second: tick then
