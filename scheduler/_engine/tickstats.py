"""How long the scheduler's ticks take: a summary line in the log every minute.

At 100,000 executions in flight the tick is the scheduler's heartbeat: a tick that
takes too long delays every claim and every Get behind it. The beat process times
each tick and logs, once a period, how many ran and their p50, p99 and longest
duration, so an operator (and the scale benchmark) sees it without a profiler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

__all__ = ["TickStats"]

log = logging.getLogger(__name__)


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (nearest rank)."""
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


class TickStats:
    """Collects tick durations and logs a summary every ``period``.

    Args:
        clock: The time of day (the runtime's clock), to know when a period is over.
        period: How often to log.
        emit: Where the summary line goes (the module's logger by default).
        label: Said after "flyte-celery scheduler" (the shard, when there are several).
    """

    def __init__(
        self,
        clock: Callable[[], datetime],
        period: timedelta = timedelta(minutes=1),
        emit: Callable[[str], None] | None = None,
        *,
        label: str = "",
    ) -> None:
        self._name = f"flyte-celery scheduler{label}"
        self._clock = clock
        self._period = period
        self._emit = emit or log.info
        self._since: datetime | None = None
        self._durations: list[float] = []

    def record(self, took: timedelta) -> None:
        """Count one tick that took ``took``; log the summary if the period is over."""
        now = self._clock()
        if self._since is None:
            self._since = now
        self._durations.append(took.total_seconds())
        if now - self._since >= self._period:
            self._emit(self.summary())
            self._durations.clear()
            self._since = now

    def summary(self) -> str:
        """The summary line of the ticks counted since the last one."""
        ordered = sorted(self._durations)
        if not ordered:
            return f"{self._name}: no ticks"
        p50, p99 = _quantile(ordered, 0.5), _quantile(ordered, 0.99)
        return (
            f"{self._name}: {len(ordered)} ticks, p50 {p50 * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
        )
