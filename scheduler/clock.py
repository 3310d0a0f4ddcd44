"""The one clock of flyte-celery: every entry point takes a :data:`Clock`.

The scheduler's tick, the workers' steps and the client all read the time through
the clock their :class:`~scheduler._runtime.Runtime` carries, so a test (or
:mod:`scheduler.testing`) can move time for all of them at once with a
:class:`ManualClock`, and no code path calls ``datetime.now`` behind its back.

This module is a leaf of ``scheduler``: it imports nothing else from the package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["Clock", "ManualClock", "utcnow"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (UTC)."""


def utcnow() -> datetime:
    """The system clock: the current time, timezone-aware."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests and the engine harness.

    Args:
        start: The first time it shows; the system time when omitted.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or utcnow()
        if start.tzinfo is None:
            raise ValueError(f"ManualClock needs a timezone-aware start, got {start!r}")
        self._now = start

    def __call__(self) -> datetime:
        """The time the clock shows."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; returns the new time.

        Raises:
            ValueError: ``delta`` is negative (time never runs backwards).
        """
        if delta < timedelta(0):
            raise ValueError(f"a clock cannot go back in time, got {delta}")
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than now.

        Raises:
            ValueError: ``when`` is earlier than the current time.
        """
        if when < self._now:
            raise ValueError(f"a clock cannot go back in time: {when} < {self._now}")
        self._now = when
