"""Publishing jobs, and the errors that mean Redis or the broker is away.

A job is published only after its claim is written (an outbox): if publishing
fails, or the message is lost, the claim is still on the record and
reconciliation publishes it again after the visibility timeout.

Every job carries a time limit, so a plugin call that hangs is cut off and its
worker slot freed: ``FLYTE_CELERY_CALL_TIMEOUT``, or for a Do call of a task with a
timeout, what is left of the attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from kombu.exceptions import OperationalError

from scheduler._backend import WRITES_REFUSED
from scheduler._model import ExecutionRecord, Step
from scheduler._runtime import Runtime

__all__ = ["OUTAGE", "UNAVAILABLE", "Outbox", "Publisher"]

log = logging.getLogger(__name__)

_AFTER_DEADLINE = timedelta(seconds=10)

UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    OperationalError,  # kombu's: the broker (Redis or RabbitMQ) does not answer
    *WRITES_REFUSED,  # Redis answers but takes no writes (OOM, READONLY, MISCONF)
)
"""Errors that mean Redis or the broker is away, or refuses writes for now: the tick
stops and waits for them, instead of failing executions (a write that is refused too) or
logging a traceback per record."""

OUTAGE: tuple[type[Exception], ...] = (redis.RedisError, *UNAVAILABLE)
"""What ends a tick as an outage of Redis or the broker (any Redis error, since a tick
that met one has done what it could)."""


class Publisher(Protocol):
    """Sends a job to a queue (Celery's ``send_task`` in production)."""

    def __call__(
        self, job: str, args: list[Any], queue: str, *, time_limit: timedelta | None = None
    ) -> None:
        """Publish ``job`` with ``args`` to ``queue``; its call is cut off after ``time_limit``."""
        ...


class Outbox:
    """Publishes the jobs of claims the tick wrote; publishes again what failed to go out.

    Args:
        runtime: The process's runtime.
        publish: Publishes jobs.
        batch: The most executions read per index per tick.
    """

    def __init__(self, runtime: Runtime, publish: Publisher, batch: int) -> None:
        self.runtime = runtime
        self.publish = publish
        self.batch = batch
        # Jobs whose claims are written but whose publish failed: sent again at the next
        # tick, within seconds of the broker coming back, not after the visibility timeout.
        self._unsent: list[tuple[Step, list[Any], str, timedelta]] = []

    def resend(self, now: datetime) -> None:
        """Publish again the jobs whose publish failed (a stale one finds its claim gone).

        Raises:
            Exception: One of :data:`UNAVAILABLE`: the broker is still away (the rest wait).
        """
        del now
        while self._unsent:
            step, args, queue, limit = self._unsent[0]
            self.publish(step.job_name, args, queue, time_limit=limit)
            self._unsent.pop(0)
            log.info("published %s %s again after a failed publish", step, args)

    def time_limit(self, record: ExecutionRecord, step: Step) -> timedelta:
        """When a worker cuts off the call of ``step`` for ``record``."""
        limit = self.runtime.settings.call_timeout
        if step in (Step.CREATE, Step.DO) and record.deadline is not None:
            # The scheduler ends the attempt at its deadline (TimedOut) and drops a late
            # answer; the limit, a little later, frees the worker slot. A Create cut off
            # so ends the attempt TimedOut too (see the Create step).
            left = record.deadline - self.runtime.clock()
            limit = min(limit, max(timedelta(0), left) + _AFTER_DEADLINE)
        return limit

    def publish_claimed(self, record: ExecutionRecord) -> None:
        """Publish the job of the step the record claims (a Get or Create as a batch of one)."""
        claim = record.claim
        if claim is None:
            return
        queue = self.runtime.queues.of_record(record)
        if claim.step is Step.GET:
            self.publish_gets(queue, [(record.id, claim.attempt)])
        elif claim.step is Step.CREATE:
            self.publish_creates(queue, [record])
        else:
            self._send(
                claim.step, [record.id, claim.attempt], queue, self.time_limit(record, claim.step)
            )

    def publish_creates(self, queue: str, records: Sequence[ExecutionRecord]) -> None:
        """Publish claimed Creates to ``queue`` in jobs of at most ``create_batch_size``.

        A Create whose attempt has a deadline is published alone, with its own time limit,
        which must not cut off the others.
        """
        size = self.runtime.settings.create_batch_size
        shared = [r for r in records if r.deadline is None]
        chunks = [[r] for r in records if r.deadline is not None]
        chunks += [shared[start : start + size] for start in range(0, len(shared), size)]
        for chunk in chunks:
            limit = min(self.time_limit(r, Step.CREATE) for r in chunk)
            self._send(Step.CREATE, [[[r.id, r.attempt] for r in chunk]], queue, limit)

    def publish_gets(
        self, queue: str, items: Sequence[tuple[str, int]], size: int | None = None
    ) -> None:
        """Publish claimed Gets, ``(execution id, attempt)``, in jobs of ``size`` at most.

        ``size`` defaults to ``get_batch_size`` (see :meth:`PluginSet.get_batch_size`).
        """
        size = size or self.runtime.settings.get_batch_size
        limit = self.runtime.settings.call_timeout
        for start in range(0, len(items), size):
            chunk = [[i, a] for i, a in items[start : start + size]]
            self._send(Step.GET, [chunk], queue, limit)

    def publish_one(self, step: Step, execution_id: str, attempt: int, queue: str) -> None:
        """Publish the job of a step claimed server-side for one execution."""
        self._send(step, [execution_id, attempt], queue, self.runtime.settings.call_timeout)

    def _send(self, step: Step, args: list[Any], queue: str, limit: timedelta) -> None:
        try:
            self.publish(step.job_name, args, queue, time_limit=limit)
        except UNAVAILABLE:
            # The claims are written: the job is sent again at the first tick that reaches
            # the broker (resend). The tick stops here; its caller waits for the broker.
            self._unsent.append((step, args, queue, limit))
            raise
        except Exception:
            # Not an outage (a bug, a refused message): sending it again each tick would
            # fail each tick. The claims are written: reconciliation publishes them again
            # after the visibility timeout. Failing the attempts here would free tokens a
            # launch may still use.
            log.exception("publishing %s %s failed; reconciliation will retry", step, args)
