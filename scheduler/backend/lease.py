"""A leadership lease in Redis, so that exactly one scheduler acts at a time.

The leader renews the lease on every tick; a standby tries to take it on every
tick and succeeds once the leader stopped renewing, i.e. within the lease time.
Renewal checks ownership in Lua, so a leader that stalled past its lease cannot
extend a lease another scheduler already took.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from redis import Redis

from scheduler.backend.scripts import decode, load_script

__all__ = ["LeaderLease"]


class LeaderLease:
    """One contender for a named lease.

    Args:
        redis_client: A ``redis.Redis`` client.
        key: The lease key; contenders for the same key exclude each other.
        lease: How long leadership lasts without renewal.
    """

    def __init__(self, redis_client: Redis, key: str, lease: timedelta) -> None:
        self._redis = redis_client
        self.key = key
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_ms = max(1, int(lease.total_seconds() * 1000))
        self._take = load_script(redis_client, "lease")
        self._drop = load_script(redis_client, "unlease")

    def acquire(self) -> bool:
        """Take or renew the lease; whether this contender leads now."""
        return bool(self._take(keys=[self.key], args=[self.owner, self._lease_ms]))

    def release(self) -> None:
        """Give the lease up (if still held), so a standby takes over at once."""
        self._drop(keys=[self.key], args=[self.owner])

    def holder(self) -> str | None:
        """Who holds the lease now, if anyone."""
        value = self._redis.get(self.key)
        return None if value is None else decode(value)
