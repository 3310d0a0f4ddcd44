"""Wake-ups: how clients and workers tell the scheduler there is work now.

The scheduler blocks on a Redis list between ticks. Whoever writes a record
that needs the scheduler's attention at once (a submission, a finished step, an
abort) pushes to it, so results are acted on without polling delay, and an idle
scheduler costs one blocked call per tick interval.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from redis import Redis

from scheduler._backend.keys import Keys

__all__ = ["WakeChannel"]

log = logging.getLogger(__name__)


class WakeChannel:
    """The scheduler's wake-up list.

    Args:
        redis_client: The deployment's Redis.
        keys: The deployment's key names.
    """

    def __init__(self, redis_client: Redis, keys: Keys) -> None:
        self._redis = redis_client
        self._key = keys.wake

    def notify(self) -> bool:
        """Tell the scheduler there is work now; whether the wake-up was delivered.

        A wake-up is a hint: the work is already in Redis, and the scheduler finds it
        within a tick interval anyway. So a failure (Redis away a moment, or an ACL
        user without the wake-up list) is logged, never raised: the write it follows
        has succeeded, and its caller must not think otherwise.
        """
        pipe = self._redis.pipeline(transaction=False)
        pipe.lpush(self._key, 1)
        pipe.ltrim(self._key, 0, 0)  # one pending wake-up is as good as many
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not wake the scheduler (it finds the work within a tick): %s", exc)
            return False
        return True

    def wait(self, timeout: timedelta) -> bool:
        """Block until :meth:`notify` is called or ``timeout`` passes; whether woken."""
        seconds = max(0.001, timeout.total_seconds())
        return self._redis.blpop([self._key], timeout=seconds) is not None
