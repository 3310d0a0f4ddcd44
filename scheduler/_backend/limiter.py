"""RedisRateLimiter: one token bucket shared by every process, on Redis's clock.

Celery's own ``rate_limit`` is per worker node. This limiter is global: a GCRA
(generic cell rate algorithm) token bucket in one Lua script, with time taken
from Redis ``TIME`` so that clock skew between hosts cannot loosen it. It allows
a sustained ``qps`` calls per second and up to ``burst`` calls at once, the
semantics of Flyte's ``RateLimiterConfig``.

Key: ``<key>``, a STRING holding the theoretical arrival time; it expires once
the bucket is full again, so idle limiters leave nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from redis import Redis

from plugins.errors import ConfigError
from plugins.webapi import RateLimiterConfig
from scheduler._backend.scripts import load_script
from scheduler.metrics import RATE_LIMITER_WAIT

__all__ = ["RedisRateLimiter"]


class RedisRateLimiter:
    """A global token bucket: ``qps`` per second sustained, ``burst`` at once.

    Args:
        redis_client: A ``redis.Redis`` client.
        key: The Redis key of this bucket; every process using it shares the limit.
        qps: Sustained calls per second; positive.
        burst: Calls allowed at once; at least 1.
        sleep: How to wait (injectable for tests).
        name: What metrics call it (``<plugin>/<read|write>``); the key by default.
    """

    def __init__(
        self,
        redis_client: Redis,
        key: str,
        *,
        qps: float,
        burst: int,
        sleep: Callable[[float], None] = time.sleep,
        name: str | None = None,
    ) -> None:
        if not qps > 0:
            raise ConfigError(f"rate limiter {key!r}: qps must be positive, got {qps}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigError(f"rate limiter {key!r}: burst must be an int >= 1, got {burst!r}")
        self.key = key
        self.name = name or key
        self.qps = float(qps)
        self.burst = burst
        self._interval_us = max(1, round(1_000_000 / self.qps))
        self._script = load_script(redis_client, "gcra")
        self._sleep = sleep

    @classmethod
    def from_config(
        cls, redis_client: Redis, key: str, config: RateLimiterConfig, name: str | None = None
    ) -> RedisRateLimiter:
        """A limiter with a plugin's ``RateLimiterConfig``."""
        return cls(redis_client, key, qps=config.qps, burst=config.burst, name=name)

    def _attempt(self) -> tuple[bool, float]:
        granted, wait = self.take(1)
        return granted == 1, wait.total_seconds()

    def take(self, calls: int) -> tuple[int, timedelta]:
        """Take up to ``calls`` calls' worth of the bucket now, in one round trip; never waits.

        A batch of Gets asks for all its calls at once and starts those granted.

        Returns:
            How many were granted (0 to ``calls``), and how long until one more would be.
        """
        granted, wait_us = self._script(
            keys=[self.key], args=[self._interval_us, self.burst, max(1, calls)]
        )
        return int(granted), timedelta(microseconds=int(wait_us))

    def try_acquire(self) -> bool:
        """Take one call's worth of the bucket if it is available now; never waits."""
        return self._attempt()[0]

    def acquire(self, timeout: float | timedelta | None = None) -> bool:
        """Take one call's worth of the bucket, waiting as long as needed but no longer.

        Redis says how long until the next call is allowed; this sleeps exactly that
        long. If that is beyond ``timeout`` it returns ``False`` at once instead of
        sleeping for nothing.

        Args:
            timeout: Seconds (or a timedelta) to wait at most; ``None`` waits as long as
                it takes, ``0`` never waits.

        Returns:
            Whether the call may proceed.
        """
        limit = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        deadline = None if limit is None else time.monotonic() + max(0.0, limit)
        while True:
            allowed, wait = self._attempt()
            if allowed:
                return True
            if deadline is not None and time.monotonic() + wait > deadline:
                return False
            # Other processes may take the slot first; then we simply ask again.
            self.waited(wait)
            self._sleep(wait)

    def waited(self, seconds: float) -> None:
        """Count a wait of ``seconds`` for this limiter (its metric)."""
        RATE_LIMITER_WAIT.labels(self.name).observe(seconds)
