"""The scheduler inside ``celery -A worker beat``: a custom beat scheduler class.

Celery beat calls :meth:`EngineScheduler.tick` in a loop. Each tick runs beat's
own periodic entries (if the app has any), then the engine's tick, and then
blocks on a Redis list until a worker or client pushes a wake-up or the next
piece of work is due. So results are acted on at once, without polling delay,
and an idle scheduler costs one blocked Redis call per tick interval.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from celery import beat

from scheduler.engine.engine import Engine
from scheduler.runtime import Runtime
from scheduler.settings import Settings

__all__ = ["EngineScheduler"]

log = logging.getLogger(__name__)


class EngineScheduler(beat.Scheduler):  # type: ignore[misc]
    """Runs flyte-celery's engine as celery beat's scheduler."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._engine: Engine | None = None
        super().__init__(*args, **kwargs)

    @property
    def engine(self) -> Engine:
        """The engine, built on first use from ``FLYTE_CELERY_*`` settings."""
        if self._engine is None:
            runtime = Runtime(Settings.load())
            self._engine = Engine(runtime, self._publish)
            log.info("flyte-celery scheduler %s ready", self._engine.lease.owner)
        return self._engine

    def _publish(self, job: str, args: list[Any], queue: str) -> None:
        self.app.send_task(job, args=args, queue=queue)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One scheduler round; blocks until woken or until work is due."""
        beat_wait = super().tick(*args, **kwargs)
        engine = self.engine
        try:
            wait = engine.tick()
        except Exception:
            # Redis down, for example: keep beat alive and try again shortly.
            log.exception("flyte-celery scheduler tick failed")
            wait = timedelta(seconds=1)
        if beat_wait:
            wait = min(wait, timedelta(seconds=beat_wait))
        if wait > timedelta(0):
            try:
                engine.runtime.wake.wait(wait)
            except Exception:
                # Redis down while waiting: do not spin; the next tick retries.
                log.exception("flyte-celery scheduler could not wait for a wake-up")
                time.sleep(min(1.0, wait.total_seconds()))
        return 0.0

    def close(self) -> None:
        """Give up leadership, so a standby takes over at once."""
        if self._engine is not None:
            try:
                self._engine.stop()
            except Exception:
                log.exception("could not release the scheduler lease")
        super().close()
