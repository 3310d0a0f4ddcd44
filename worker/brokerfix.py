"""A guard for one kombu 5.7 Redis-transport bug that kills workers on a broker outage.

When the broker connection drops while a job is unacknowledged, Celery 5.7 closes the
broken connection, and closing the channel restores the unacknowledged messages. By
then the transport has let go of its connection parameters, so kombu raises
``AttributeError: 'NoneType' object has no attribute 'hostname'`` from
``QoS.restore_unacked``; Celery treats it as unrecoverable and the worker exits
(seen about once in ten Redis restarts under load).

The guard turns that one error into a warning. Nothing is lost: the messages stay in
the transport's unacknowledged index in Redis, and kombu restores them later
(``unacked_restore_interval``, at most the visibility timeout), when the worker has
reconnected; run leases keep a restored job from running twice.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from kombu.transport import redis as kombu_redis

__all__ = ["guard_restore_unacked"]

log = logging.getLogger(__name__)


def guard_restore_unacked() -> None:
    """Install the guard (idempotent)."""
    qos: Any = kombu_redis.QoS
    original = qos.restore_unacked
    if getattr(original, "_flyte_celery_guard", False):
        return

    @functools.wraps(original)
    def restore_unacked(self: Any, client: Any = None) -> Any:
        try:
            return original(self, client)
        except AttributeError as exc:
            log.warning(
                "broker connection lost: %d unacknowledged message(s) stay in Redis and are "
                "restored after reconnecting (%s)",
                len(self._delivered),
                exc,
            )
            return None

    restore_unacked._flyte_celery_guard = True  # type: ignore[attr-defined]
    qos.restore_unacked = restore_unacked
