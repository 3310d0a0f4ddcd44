"""Wake-ups: how clients and workers tell the scheduler there is work now.

The scheduler blocks on a Redis list between ticks. Whoever writes a record
that needs the scheduler's attention at once (a submission, a finished step, an
abort) pushes to it, so results are acted on without polling delay, and an idle
scheduler costs one blocked call per tick interval. Each shard has its own list (the
one of the shard that holds the record is pushed); a scheduler leading several
shards blocks on all of theirs in one call (they share a Redis Cluster slot).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import redis
from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.shards import ShardMap

__all__ = ["WakeChannel"]

log = logging.getLogger(__name__)


class WakeChannel:
    """The schedulers' wake-up lists.

    Args:
        redis_client: The deployment's Redis.
        keys: The key names of the shard woken when no execution is named.
        shards: Every shard's key names.
    """

    def __init__(self, redis_client: Redis, keys: Keys, shards: ShardMap) -> None:
        self._redis = redis_client
        self._key = keys.wake
        self._shards = shards

    def notify(self, *execution_ids: str) -> bool:
        """Tell the scheduler of each execution's shard (or this shard's) there is work now.

        Returns whether the wake-ups were delivered.

        A wake-up is a hint: the work is already in Redis, and the scheduler finds it
        within a tick interval anyway. So a failure (Redis away a moment, or an ACL
        user without the wake-up list) is logged, never raised: the write it follows
        has succeeded, and its caller must not think otherwise.
        """
        names = {self._shards.of(execution_id).wake for execution_id in execution_ids}
        names = names or {self._key}
        pipe = self._redis.pipeline(transaction=False)
        for name in names:
            pipe.lpush(name, 1)
            pipe.ltrim(name, 0, 0)  # one pending wake-up is as good as many
        try:
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not wake the scheduler (it finds the work within a tick): %s", exc)
            return False
        return True

    def wait(self, timeout: timedelta, shards: Sequence[int] = ()) -> bool:
        """Block until a shard is woken or ``timeout`` passes; whether woken.

        Args:
            timeout: The longest wait.
            shards: The shards whose wake-ups count (this one's by default).
        """
        seconds = max(0.001, timeout.total_seconds())
        names = [self._shards.keys[shard].wake for shard in shards] or [self._key]
        return self._redis.blpop(names, timeout=seconds) is not None
