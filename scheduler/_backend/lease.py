"""A leadership lease in Redis, so that exactly one scheduler acts at a time.

The leader renews the lease at the start of every tick, and within a tick again only
once a third of the lease has passed (:meth:`LeaderLease.keep`); a standby tries to
take it on every tick and succeeds once the leader stopped renewing, i.e. within the
lease time.
Renewal checks ownership in Lua, so a leader that stalled past its lease cannot
extend a lease another scheduler already took.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from redis import Redis

from scheduler._backend.scripts import decode, load_script

__all__ = ["LeaderLease"]


class LeaderLease:
    """One contender for a named lease.

    Args:
        redis_client: A ``redis.Redis`` client.
        key: The lease key; contenders for the same key exclude each other.
        lease: How long leadership lasts without renewal.
        monotonic: A monotonic clock in seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(
        self,
        redis_client: Redis,
        key: str,
        lease: timedelta,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis_client
        self.key = key
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_ms = max(1, int(lease.total_seconds() * 1000))
        self._monotonic = monotonic
        self._renewed: float | None = None
        self._take = load_script(redis_client, "lease")
        self._drop = load_script(redis_client, "unlease")

    def acquire(self) -> bool:
        """Take or renew the lease; whether this contender leads now."""
        # Read before the call: the lease Redis sets then lasts at least until this + lease.
        asked = self._monotonic()
        held = bool(self._take(keys=[self.key], args=[self.owner, self._lease_ms]))
        self._renewed = asked if held else None
        return held

    @property
    def held(self) -> bool:
        """Whether this contender led at its last acquire (or keep), and has not released."""
        return self._renewed is not None

    def keep(self) -> bool:
        """Whether this contender still leads, renewing only if a third of the lease passed.

        Within a third of the lease since the last renewal nobody else can hold it, so
        this costs no round trip; a scheduler checks it between the steps of a tick.
        """
        if self._renewed is not None and self._monotonic() - self._renewed < self._lease_ms / 3000:
            return True
        return self.acquire()

    def release(self) -> None:
        """Give the lease up (if still held), so a standby takes over at once."""
        self._renewed = None
        self._drop(keys=[self.key], args=[self.owner])

    def holder(self) -> str | None:
        """Who holds the lease now, if anyone."""
        value = self._redis.get(self.key)
        return None if value is None else decode(value)
