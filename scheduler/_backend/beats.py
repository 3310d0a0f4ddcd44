"""Which scheduler processes are alive, so that they share the shards' leadership.

Each beat process says it is alive on every tick (an entry that lapses after the leader
lease, on Redis's clock) and reads who else is. With ``B`` live processes ranked by id,
the process of rank ``r`` prefers the shards ``s`` with ``s % B == r``: it leads those,
and gives up any other it leads, so two processes split the shards and a new one gets
its share within a tick. When a process dies its entry lapses within the lease, the
ranks change, and the others take its shards over as their leases lapse too.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.scripts import decode, load_script

__all__ = ["Beats"]


class Beats:
    """One scheduler process among those sharing the shards.

    Args:
        redis_client: The deployment's Redis.
        keys: The deployment's key names.
        lease: How long the process counts as alive without saying so again.
    """

    def __init__(
        self,
        redis_client: Redis,
        keys: Keys,
        lease: timedelta,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = keys.beats
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease_ms = max(1, int(lease.total_seconds() * 1000))
        self._script = load_script(redis_client, "beats")
        self._monotonic = monotonic
        self._said: float | None = None

    def alive(self) -> list[str]:
        """Say this process is alive; every live process, this one included, by id."""
        said = self._monotonic()
        reply = self._script(keys=[self._key], args=[self.owner, self._lease_ms])
        self._said = said
        return [decode(owner) for owner in reply]

    def keep(self) -> None:
        """Say it again if a third of the lease passed since (between shards' ticks)."""
        if self._said is None or self._monotonic() - self._said >= self._lease_ms / 3000:
            self.alive()

    def share(self, shards: int) -> list[int]:
        """Say this process is alive; the shards it should lead now."""
        alive = self.alive()
        rank = alive.index(self.owner) if self.owner in alive else 0
        return [shard for shard in range(shards) if shard % len(alive or [1]) == rank]

    def leave(self) -> None:
        """Take this process out at once (it stops), so the others take its shards."""
        self._script(keys=[self._key], args=[self.owner, "leave"])
