"""Wake-ups: how clients and workers tell the scheduler there is work now.

The scheduler blocks on a Redis list between ticks. Whoever writes a record
that needs the scheduler's attention at once (a submission, a finished step, an
abort) pushes to it, so results are acted on without polling delay, and an idle
scheduler costs one blocked call per tick interval.
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis

from scheduler.backend.keys import Keys

__all__ = ["WakeChannel"]


class WakeChannel:
    """The scheduler's wake-up list.

    Args:
        redis_client: The deployment's Redis.
        keys: The deployment's key names.
    """

    def __init__(self, redis_client: Redis, keys: Keys) -> None:
        self._redis = redis_client
        self._key = keys.wake

    def notify(self) -> None:
        """Tell the scheduler there is work now."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.lpush(self._key, 1)
        pipe.ltrim(self._key, 0, 0)  # one pending wake-up is as good as many
        pipe.execute()

    def wait(self, timeout: timedelta) -> bool:
        """Block until :meth:`notify` is called or ``timeout`` passes; whether woken."""
        seconds = max(0.001, timeout.total_seconds())
        return self._redis.blpop([self._key], timeout=seconds) is not None
