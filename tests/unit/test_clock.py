"""scheduler.clock: one clock for every entry point; a manual one for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.clock import ManualClock, utcnow

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_system_clock_is_timezone_aware() -> None:
    assert utcnow().tzinfo is not None


def test_a_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(T0)
    assert clock() == clock() == T0
    assert clock.advance(timedelta(seconds=5)) == T0 + timedelta(seconds=5)
    clock.set(T0 + timedelta(minutes=1))
    assert clock() == T0 + timedelta(minutes=1)


def test_a_manual_clock_never_runs_backwards() -> None:
    clock = ManualClock(T0)
    with pytest.raises(ValueError, match="back in time"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="back in time"):
        clock.set(T0 - timedelta(seconds=1))


def test_a_manual_clock_needs_an_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(datetime(2026, 1, 1))
