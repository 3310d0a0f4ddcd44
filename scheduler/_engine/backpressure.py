"""Backpressure: launch no more than the workers drain.

Left alone, a burst of submissions is claimed as fast as the scheduler ticks and
published at once: a million Creates queued behind workers that run a few hundred a
second. Each claim not started within the visibility timeout then looks lost and is
published again, and the queue only grows. So before it launches an execution (its
Create, Do or Handle), the scheduler asks how many jobs the plugin's queue holds,
waiting for a worker (the broker's count); at ``FLYTE_CELERY_QUEUE_BACKLOG`` it
launches no more there. Executions it cannot launch stay QUEUED, with a reason that says
so, in a per-queue line, and are launched first come first served as the queue drains. Only
launches wait: Gets, Deletes and republished claims of running executions always go.

The queue's count includes every shard's jobs (the broker is shared), so several
shards' schedulers together overshoot by at most one tick's launches each.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Protocol, cast

from kombu.connection import Connection
from kombu.transport import virtual

from scheduler._model import Step

__all__ = ["BrokerDepth", "QueueDepth", "QueueRoom"]

log = logging.getLogger(__name__)

_UNLIMITED = 1 << 30


class QueueDepth(Protocol):
    """How many jobs a queue holds that no worker has taken yet."""

    def __call__(self, queue: str) -> int:
        """The number of jobs waiting in ``queue`` (0 for a queue that does not exist).

        Raises:
            Exception: One of the outbox's ``UNAVAILABLE`` errors: the broker is away.
        """
        ...


class BrokerDepth:
    """A :class:`QueueDepth` that asks the Celery broker (Redis or RabbitMQ).

    Args:
        connect: Makes a broker connection (Celery's ``app.connection_for_read``).
    """

    def __init__(self, connect: Callable[[], Connection]) -> None:
        self._connect = connect
        self._connection: Connection | None = None

    def __call__(self, queue: str) -> int:
        connection = self._connection or self._connect()
        self._connection = connection
        try:
            channel: Any = connection.default_channel
            if isinstance(channel, virtual.Channel):
                # Redis's transport keeps a queue as lists (one per priority); an empty
                # one does not exist there, so a passive declare would fail: count them.
                return int(cast(Any, channel)._size(queue))
            return int(channel.queue_declare(queue=queue, passive=True).message_count)
        except connection.channel_errors:
            # No such queue yet (RabbitMQ closes the channel): nothing waits in it.
            self.close()
            return 0
        except connection.connection_errors:
            self.close()  # the broker is away: connect again next time
            raise

    def close(self) -> None:
        """Drop the connection (a new one is made on the next call)."""
        if self._connection is not None:
            connection: Any = self._connection
            self._connection = None
            try:
                connection.release()
            except Exception as exc:  # it is being dropped anyway
                log.debug("closing the broker connection failed: %s", exc)


class QueueRoom:
    """How many more launches each queue takes, within one tick.

    Each queue's depth is read once per tick (at most), and every launch taken in the
    tick counts as the share of a job it adds: a whole one for a Do or Handle, one
    ``create_batch_size``-th for a Create (Creates travel in batches).

    Args:
        limit: ``FLYTE_CELERY_QUEUE_BACKLOG``: the most jobs a queue may hold (0: no limit).
        depth: Counts a queue's jobs; None means no limit either (nothing to ask).
        create_batch_size: Executions per Create job.
    """

    def __init__(self, limit: int, depth: QueueDepth | None, create_batch_size: int) -> None:
        self.limit = limit if depth is not None else 0
        self._depth = depth
        self._per_create = create_batch_size
        self._jobs: dict[str, int] = {}
        self._added: dict[str, float] = {}

    @property
    def enabled(self) -> bool:
        """Whether launches are limited at all."""
        return self.limit > 0

    def refresh(self) -> None:
        """Forget the depths read: the next question of a queue asks the broker again."""
        self._jobs.clear()
        self._added.clear()

    def jobs(self, queue: str) -> int:
        """The jobs ``queue`` held when first asked this tick."""
        if queue not in self._jobs:
            assert self._depth is not None  # only asked when enabled
            self._jobs[queue] = self._depth(queue)
        return self._jobs[queue]

    def load(self, queue: str) -> int:
        """The jobs ``queue`` holds with this tick's launches (whole jobs, rounded up)."""
        return math.ceil(self._used(queue) - 1e-9)

    def _used(self, queue: str) -> float:
        """The queue's jobs with this tick's launches (a Create a share of a job)."""
        return self.jobs(queue) + self._added.get(queue, 0.0)

    def _share(self, step: Step) -> float:
        return 1 / self._per_create if step is Step.CREATE else 1.0

    def free(self, queue: str, step: Step) -> int:
        """How many launches of ``step`` still fit in ``queue`` this tick."""
        if not self.enabled:
            return _UNLIMITED
        left = self.limit - self._used(queue)
        return max(0, math.floor(left / self._share(step) + 1e-9))

    def take(self, queue: str, step: Step) -> bool:
        """Count one launch of ``step`` into ``queue`` if it fits; whether it did."""
        if not self.enabled:
            return True
        share = self._share(step)
        if self._used(queue) + share > self.limit + 1e-9:
            return False
        self._added[queue] = self._added.get(queue, 0.0) + share
        return True
