"""The broker connection of every Celery process: quick to come back, and not killed by a bug.

**Reconnecting.** Celery retries a lost broker connection with kombu's defaults: 2 s,
then 2 s more each time, up to 30 s between attempts. After a long outage a worker
would notice the broker is back only up to 30 s later. :class:`AMQP` gives the app a
connection class that retries every quarter second at first and at least once a
second, so workers resume within about a second of the broker answering. Celery logs
every attempt; :class:`OutageLog` keeps the first line of an outage and, when the
broker answers again, says how many attempts it took and the longest pause.

**A guard for kombu 5.7's Redis transport after a lost connection.** When the broker
connection drops, Celery 5.7 closes it, and kombu lets go of its connection parameters.
Channels of the old connection are still used afterwards: closing one restores its
unacknowledged messages, and a job that finishes acknowledges its message on it. Both
build a Redis client from the parameters that are gone and raise ``AttributeError``
(``'NoneType' object has no attribute 'hostname'`` or ``'client'``), which Celery
treats as unrecoverable: the worker exits (about once in ten Redis restarts under load).

The guard makes such a call raise Redis's ``ConnectionError`` instead, which kombu and
Celery handle as what it is: the message is not acknowledged now, stays in the
transport's unacknowledged index in Redis, and is restored after the worker has
reconnected (``unacked_restore_interval``, at most the visibility timeout); run leases
keep a restored job from running twice.

**Redis refusing writes is an outage too.** At ``maxmemory`` (``noeviction``), on a
read-only replica or after a failed snapshot (``MISCONF``), Redis answers every write
with an error reply, and kombu's bookkeeping of unacknowledged messages (``ZADD``,
``HSET``) raised it as a channel error, which Celery takes for unrecoverable: the worker
exited. :func:`treat_refused_writes_as_outage` makes those replies connection errors to
kombu, so the consumer reconnects, with the pauses above, until Redis takes writes again.
"""

from __future__ import annotations

import functools
import logging
import re
import time
from typing import Any

import redis
from celery.app.amqp import AMQP as CeleryAMQP
from kombu.connection import Connection
from kombu.transport import redis as kombu_redis

from scheduler._backend import WRITES_REFUSED

__all__ = [
    "AMQP",
    "RECONNECT_INTERVAL_MAX",
    "OutageLog",
    "QuickReconnect",
    "guard_lost_connection",
    "treat_refused_writes_as_outage",
]

RECONNECT_INTERVAL_MAX = 1.0
"""The longest pause, in seconds, between attempts to reach a lost broker."""


class QuickReconnect(Connection):
    """A kombu connection that retries a lost broker often (see the module docstring)."""

    def _ensure_connection(  # noqa: PLR0917 - kombu's signature, defaults changed
        self,
        errback: Any = None,
        max_retries: Any = None,
        interval_start: float = 0.25,
        interval_step: float = 0.25,
        interval_max: float = RECONNECT_INTERVAL_MAX,
        callback: Any = None,
        reraise_as_library_errors: bool = True,
        timeout: Any = None,
    ) -> Any:
        return super()._ensure_connection(  # type: ignore[no-untyped-call]
            errback,
            max_retries,
            interval_start,
            interval_step,
            interval_max,
            callback,
            reraise_as_library_errors,
            timeout,
        )


class AMQP(CeleryAMQP):  # type: ignore[misc]
    """Celery's AMQP helper with :class:`QuickReconnect` connections."""

    Connection = QuickReconnect


_PAUSE = re.compile(r"Trying again in ([0-9.]+) seconds?")
_CONSUMER_LOGGERS = (
    "celery.worker.consumer.consumer",
    "celery.worker.consumer.connection",
    "celery.worker.request",  # a job's ack, which fails after a lost connection
    "py.warnings",  # Celery's warnings, which it logs (logging.captureWarnings)
)


class OutageLog(logging.Filter):
    """One line when the broker goes away, one when it answers again: not one per attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0
        self.longest = 0.0
        self.since = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the repeated attempts of an outage; summarize them on reconnection."""
        message = record.getMessage()
        if message.startswith("Frequent restarts detected") and self.attempts:
            # Celery pauses a consumer that restarts often, and says so (with a traceback)
            # once a second; within an outage that is one more line per attempt.
            return False
        if message.startswith("Couldn't ack"):
            # A job that ran on across a lost connection cannot ack on the new one. Kombu
            # says so as CRITICAL with a traceback; it is expected, and harmless: the broker
            # delivers the message again after the visibility timeout, and its claim is gone.
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = (
                f"{message}: the job ran on across a lost broker connection; its message "
                "comes back after the visibility timeout and does nothing (its claim is gone)"
            )
            record.args, record.exc_info, record.exc_text = (), None, None
            return True
        if "worker_cancel_long_running_tasks_on_connection_loss" in message:
            # Celery warns at each lost connection that Celery 6 cancels the jobs running
            # then; we keep them running on purpose (see worker.app), so this says nothing.
            return False
        if message.startswith("consumer: Cannot connect to"):
            found = _PAUSE.search(message)
            self.longest = max(self.longest, float(found.group(1)) if found else 0.0)
            self.attempts += 1
            if self.attempts == 1:
                self.since = time.monotonic()
                return True
            return False
        if message.startswith("Connected to") and self.attempts:
            took = time.monotonic() - self.since
            record.msg = (
                f"{message}: the broker answers again after {took:.1f}s and "
                f"{self.attempts} attempts (longest pause {self.longest:.2f}s)"
            )
            record.args = ()
            self.attempts, self.longest = 0, 0.0
        return True

    def install(self) -> None:
        """Attach to Celery's consumer loggers (idempotent)."""
        for name in _CONSUMER_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, OutageLog) for f in logger.filters):
                logger.addFilter(self)


def guard_lost_connection() -> None:
    """Install the guard (idempotent)."""
    channel: Any = kombu_redis.Channel
    original = channel._connparams
    if getattr(original, "_flyte_celery_guard", False):
        return

    @functools.wraps(original)
    def _connparams(self: Any, asynchronous: bool = False) -> Any:
        transport = self.connection
        if transport is None or getattr(transport, "client", None) is None:
            raise redis.ConnectionError(
                "the broker connection was closed; the worker reconnects and the message "
                "is restored"
            )
        return original(self, asynchronous)

    _connparams._flyte_celery_guard = True  # type: ignore[attr-defined]
    channel._connparams = _connparams


def treat_refused_writes_as_outage() -> None:
    """Make kombu's Redis transport take refused writes for a lost connection (idempotent)."""
    transport: Any = kombu_redis.Transport
    known = tuple(transport.connection_errors)
    transport.connection_errors = known + tuple(e for e in WRITES_REFUSED if e not in known)
