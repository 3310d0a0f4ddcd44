"""Done messages: how a waiting client learns at once that its execution finished.

``lua/transition.lua`` publishes on ``{p}:done:<id>`` when it writes a record in a final
phase. :meth:`Execution.wait <scheduler._client.Execution.wait>` subscribes first, then
reads the record, then waits for the message, re-reading the record now and then: a
message is a hint, and one that is lost (a reconnect, a client not allowed to subscribe)
costs at most that polling interval.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from types import TracebackType
from typing import Any

import redis
from redis import Redis

from scheduler._backend.shards import ShardMap

__all__ = ["DoneChannel", "DoneWatch"]

log = logging.getLogger(__name__)

_CONFIRMATION = timedelta(seconds=5)
"""The longest a subscription waits for Redis to confirm it before waiting by polling."""


class DoneWatch:
    """A subscription to one execution's done message; a context manager.

    Args:
        redis_client: The deployment's Redis.
        channel: The execution's done channel.
    """

    def __init__(self, redis_client: Redis, channel: str) -> None:
        self._pubsub: Any = None
        pubsub = redis_client.pubsub()
        try:
            pubsub.subscribe(channel)
            # Only once Redis confirms is a message published after our next read certain
            # to reach us; the confirmation is the first message on the connection.
            deadline = time.monotonic() + _CONFIRMATION.total_seconds()
            while (left := deadline - time.monotonic()) > 0:
                message = pubsub.get_message(timeout=left)
                if message is not None and message["type"] == "subscribe":
                    self._pubsub = pubsub
                    return
            log.debug("no confirmation of %s: waiting by polling", channel)
        except redis.RedisError as exc:
            # An ACL user without the channel, or Redis away: polling still finds the end.
            log.debug("cannot subscribe to %s (%s): waiting by polling", channel, exc)
        pubsub.close()

    @property
    def subscribed(self) -> bool:
        """Whether a done message can wake :meth:`wait` (else it just sleeps)."""
        return self._pubsub is not None

    def wait(self, timeout: timedelta) -> bool:
        """Block until the done message comes or ``timeout`` passes; whether it came."""
        seconds = max(0.0, timeout.total_seconds())
        if self._pubsub is None:
            time.sleep(seconds)
            return False
        deadline = time.monotonic() + seconds
        try:
            while (left := deadline - time.monotonic()) > 0:
                message = self._pubsub.get_message(timeout=left)
                if message is not None and message["type"] == "message":
                    return True
        except redis.RedisError as exc:
            log.debug("done subscription lost (%s): waiting by polling", exc)
            self.close()
        return False

    def close(self) -> None:
        """Drop the subscription (and its connection)."""
        if self._pubsub is not None:
            pubsub, self._pubsub = self._pubsub, None
            pubsub.close()  # disconnects without raising, even from a Redis gone away

    def __enter__(self) -> DoneWatch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class DoneChannel:
    """Subscriptions to executions' done messages.

    Args:
        redis_client: The deployment's Redis.
        shards: Every shard's names: a channel is named under its execution's shard.
    """

    def __init__(self, redis_client: Redis, shards: ShardMap) -> None:
        self._redis = redis_client
        self._shards = shards

    def watch(self, execution_id: str) -> DoneWatch:
        """Subscribe to ``execution_id``'s done message (subscribed when this returns)."""
        return DoneWatch(self._redis, self._shards.of(execution_id).done(execution_id))
