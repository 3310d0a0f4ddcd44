"""Each plugin's global rate limiters: one for reads (Get), one for writes (Create...).

Built on first use from the plugin's ``readRateLimiter`` and ``writeRateLimiter`` and kept
for the process's life; the limits themselves live in Redis, shared by every process.
"""

from __future__ import annotations

import threading

import redis

from scheduler._backend import Keys, RedisRateLimiter
from scheduler._model import LimiterKind
from scheduler._runtime.plugins import PluginSet, limiter_name

__all__ = ["Limiters"]


class Limiters:
    """The rate limiters of one process's plugins.

    Args:
        redis_client: The deployment's Redis.
        keys: Its key names.
        plugins: The process's plugins (their limiter settings).
    """

    def __init__(self, redis_client: redis.Redis, keys: Keys, plugins: PluginSet) -> None:
        self._redis = redis_client
        self._keys = keys
        self._plugins = plugins
        self._made: dict[tuple[str, LimiterKind], RedisRateLimiter] = {}
        self._lock = threading.Lock()

    def get(self, plugin_id: str, kind: LimiterKind) -> RedisRateLimiter:
        """The plugin's global read (Get) or write (Create, Delete, Do) limiter."""
        with self._lock:
            limiter = self._made.get((plugin_id, kind))
            if limiter is None:
                config = self._plugins.get(plugin_id).config
                limits = (
                    config.read_rate_limiter
                    if kind is LimiterKind.READ
                    else config.write_rate_limiter
                )
                key = self._keys.limiter(plugin_id, kind.value)
                name = limiter_name(plugin_id, kind)
                limiter = RedisRateLimiter.from_config(self._redis, key, limits, name)
                self._made[plugin_id, kind] = limiter
            return limiter
