"""A worker says which task types it serves, so clients accept types that exist only here.

Connector modules a worker imports (``FLYTE_CELERY_CONNECTOR_MODULES``) register task
types that neither clients nor the scheduler may know. The worker's main process
publishes every type its registry serves, with its plugin id, to Redis
(:class:`~scheduler._backend.ServedTypes`) when it is ready and then every
:data:`~scheduler._backend.SERVED_PERIOD`; the entries expire when it stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import signals

from scheduler._backend import SERVED_PERIOD
from scheduler._runtime import Runtime, process_runtime

__all__ = ["ServedPublisher", "install"]

log = logging.getLogger(__name__)


class ServedPublisher:
    """Publishes a worker's task types now and every ``period``, on a thread of its own.

    Args:
        runtime: The worker process's runtime.
        period: The time between two publications.
        wait: Waits between rounds; returns True to stop (injected by tests).
    """

    def __init__(
        self,
        runtime: Runtime,
        period: timedelta = SERVED_PERIOD,
        wait: Callable[[timedelta], bool] | None = None,
    ) -> None:
        self._runtime = runtime
        self._period = period
        self._stop = threading.Event()
        self._wait = wait or (lambda pause: self._stop.wait(pause.total_seconds()))
        self._failing = False
        self._thread: threading.Thread | None = None

    def publish(self) -> bool:
        """Publish once; whether it reached Redis (a failure is logged once per outage)."""
        try:
            # Six of its periods, as SERVED_LIFETIME is six of SERVED_PERIOD.
            routes = self._runtime.plugins.publish_served(claims=False, ttl=self._period * 6)
        except Exception as exc:
            if not self._failing:
                log.warning("could not publish this worker's task types (will retry): %s", exc)
            self._failing = True
            return False
        if self._failing:
            log.info("published this worker's task types again")
        self._failing = False
        log.debug("serving task types %s", sorted(routes))
        return True

    def _run(self) -> None:
        while True:
            self.publish()
            if self._wait(self._period):
                return

    def start(self) -> None:
        """Start publishing in the background."""
        self._thread = threading.Thread(target=self._run, name="served-types", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop.set()


_publisher: list[ServedPublisher] = []


def _ready(**_: Any) -> None:
    publisher = ServedPublisher(process_runtime())
    publisher.start()
    _publisher.append(publisher)


def _shutdown(**_: Any) -> None:
    while _publisher:
        _publisher.pop().stop()


def install() -> None:
    """Publish from every worker's main process once it is ready (Celery's signals)."""
    signals.worker_ready.connect(_ready, weak=False)
    signals.worker_shutdown.connect(_shutdown, weak=False)
