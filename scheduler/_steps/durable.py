"""Writing a plugin's answer back through a Redis that is slow, away, or refusing writes.

Once a plugin call has answered (a Create's handle, a Do's outputs, a Delete done), the
answer exists nowhere but in the job. Dropping it because Redis did not answer in time
would run the call again: a second Create under the same name, a second run of a task.
So a step writes its answers back patiently: it tries again, with growing pauses, until
Redis takes the write or the patience runs out (then the claim stays, and the scheduler
publishes the step again, as for a worker that died). The scheduler, for its part, gives
workers a grace period after an outage before it treats a lapsed run lease as a dead
worker (see :class:`scheduler._engine.upkeep.Upkeep`), so the write usually lands first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import redis

from scheduler._backend import WRITES_REFUSED

__all__ = ["PATIENCE", "REDIS_AWAY", "OutageNotice", "durably"]

log = logging.getLogger(__name__)

T = TypeVar("T")

REDIS_AWAY: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    *WRITES_REFUSED,  # out of memory, read-only, MISCONF: until there is room again
)
"""Errors that say Redis is away or refuses writes for now, not that the write is wrong."""

PATIENCE = timedelta(minutes=10)
"""How long a step keeps trying to write an answer back before it gives up on it."""

_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 1.0


class OutageNotice:
    """One log line when an operation starts failing (Redis is away), one when it works again.

    Every job retries on its own thread; without this, an outage would log a line per job
    per try.

    Args:
        what: What fails, for the lines ("renew run leases").
    """

    def __init__(self, what: str) -> None:
        self._what = what
        self._failing = False
        self._lock = threading.Lock()

    def failed(self, exc: Exception, detail: str = "") -> None:
        """Note a failure; the first of an outage is logged (with ``detail``, if any)."""
        with self._lock:
            if not self._failing:
                self._failing = True
                shown = f"{self._what} ({detail})" if detail else self._what
                log.warning("could not %s: %s; retrying", shown, exc)

    def succeeded(self) -> None:
        """Note a success; the first after an outage is logged."""
        with self._lock:
            if self._failing:
                self._failing = False
                log.warning("%s: works again", self._what)


_outage = OutageNotice("write back plugin answers")


def durably(
    write: Callable[[], T],
    what: str,
    *,
    patience: timedelta = PATIENCE,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``write`` until Redis takes it, pausing 50 ms, then longer, up to 1 s, between tries.

    Args:
        write: The write-back (a compare-and-set: running it again is safe).
        what: What is written, for the log.
        patience: How long to keep trying.
        monotonic: The clock the patience is measured on.
        sleep: How to pause between tries.

    Returns:
        What ``write`` returned.

    Raises:
        redis.RedisError: Redis was away, or refused writes, for all of ``patience``
            (one of :data:`REDIS_AWAY`); any other error at once.
    """
    deadline = monotonic() + patience.total_seconds()
    pause = _FIRST_PAUSE
    while True:
        try:
            result = write()
        except REDIS_AWAY as exc:
            if monotonic() + pause > deadline:
                raise
            _outage.failed(exc, what)
            sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE)
            continue
        _outage.succeeded()
        return result
