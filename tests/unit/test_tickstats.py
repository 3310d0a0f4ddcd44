"""TickStats: the scheduler's tick durations, summarized in the log once a period."""

from __future__ import annotations

from datetime import timedelta

from scheduler._engine.tickstats import TickStats
from scheduler.clock import ManualClock


def test_a_summary_per_period_with_p50_p99_and_max() -> None:
    clock = ManualClock()
    lines: list[str] = []
    stats = TickStats(clock, timedelta(seconds=60), emit=lines.append)
    for ms in range(1, 100):  # 99 ticks within the period: nothing logged yet
        stats.record(timedelta(milliseconds=ms))
        clock.advance(timedelta(milliseconds=500))
    assert lines == []
    clock.advance(timedelta(seconds=60))
    stats.record(timedelta(milliseconds=1000))  # the 100th tick closes the period
    assert lines == ["flyte-celery scheduler: 100 ticks, p50 50.0 ms, p99 99.0 ms, max 1000.0 ms"]
    clock.advance(timedelta(seconds=1))
    stats.record(timedelta(milliseconds=7))  # a new period starts empty
    assert stats.summary().startswith("flyte-celery scheduler: 1 ticks, p50 7.0 ms")
    assert TickStats(clock).summary() == "flyte-celery scheduler: no ticks"
