"""Which task types running processes serve: how clients learn of types that appear at run time.

A worker may serve task types its clients cannot know: connector modules it
imports (``FLYTE_CELERY_CONNECTOR_MODULES``) and connectors the scheduler discovers
over gRPC (``connector-service``). Each such process publishes what it serves,
``task type -> plugin id``, to one Redis hash, again every few seconds and with an
expiry; a client accepts a task type its own registry does not know when a live
process serves it, and rejects it with the registry's clear error when none does.
A process that stops publishing is forgotten once its entries expire.

Each field's value is ``<plugin id>|<expiry, ms since the epoch>``; an expired
field is read as absent (and removed by the next publisher).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.scripts import decode, load_script, to_ms
from scheduler.clock import Clock

__all__ = ["SERVED_LIFETIME", "SERVED_PERIOD", "ServedTypes"]

SERVED_PERIOD = timedelta(seconds=10)
"""How often each live process (a worker, the leading scheduler) publishes its task types."""

SERVED_LIFETIME = SERVED_PERIOD * 6
"""How long a publication lasts: a process that stops is forgotten after six periods."""


class ServedTypes:
    """The hash of task types served by live processes.

    Args:
        redis_client: The deployment's Redis.
        keys: The deployment's key names.
        clock: The process's clock.
    """

    def __init__(self, redis_client: Redis, keys: Keys, clock: Clock) -> None:
        self._redis = redis_client
        self._key = keys.served
        self._clock = clock
        self._publish = load_script(redis_client, "served")

    def publish(self, routes: Mapping[str, str], ttl: timedelta) -> None:
        """Say that this process serves ``routes`` (task type -> plugin id) for ``ttl``.

        Expired entries (of processes that stopped publishing) are removed in the same
        atomic step (a Lua script), so no fresh entry of another process is lost.
        """
        now = to_ms(self._clock())
        until = now + int(ttl.total_seconds() * 1000)
        pairs = [item for t, p in sorted(routes.items()) for item in (t, f"{p}|{until}")]
        self._publish(keys=[self._key], args=[now, *pairs])

    def lookup(self, task_type: str) -> str | None:
        """The plugin id a live process serves ``task_type`` with, or None."""
        value = self._redis.hget(self._key, task_type)
        if value is None or _expiry(value) < to_ms(self._clock()):
            return None
        return _plugin(value)

    def all(self) -> dict[str, str]:
        """Every task type live processes serve, with its plugin id."""
        now = to_ms(self._clock())
        return {
            decode(field): _plugin(value)
            for field, value in self._redis.hgetall(self._key).items()
            if _expiry(value) >= now
        }


def _plugin(value: bytes | str) -> str:
    return decode(value).rpartition("|")[0]


def _expiry(value: bytes | str) -> int:
    try:
        return int(decode(value).rpartition("|")[2])
    except ValueError:
        return 0  # not ours: treat as expired, the next publisher removes it
