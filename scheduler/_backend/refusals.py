"""Redis refusing writes for now: out of memory, a read-only replica, a failed snapshot.

Such a Redis answers, so redis-py raises a :class:`redis.ResponseError` rather than a
connection error, and code that treats only lost connections as an outage (kombu, Celery,
a worker's write-back) would take the refusal for a bug. These are the refusals, as
types: ``OOM`` (``maxmemory`` with ``noeviction``, as the README asks), ``READONLY`` (a
replica, or a primary demoted in a failover) and ``MISCONF`` (the last snapshot failed and
``stop-writes-on-bgsave-error`` holds writes), and ``UNBLOCKED`` (what a primary that
turns replica answers a client waiting in a blocking pop). redis-py has a type for the
first two; :func:`register` gives the others one, in every client of the process.
"""

from __future__ import annotations

import redis
from redis._parsers.base import BaseParser
from redis.exceptions import OutOfMemoryError, ReadOnlyError

__all__ = ["WRITES_REFUSED", "MisconfError", "UnblockedError", "register"]


class MisconfError(redis.ResponseError):
    """Redis refuses writes: its last snapshot failed (``MISCONF``)."""


class UnblockedError(redis.ResponseError):
    """Redis ended a blocking read (``BRPOP``) because it turned replica (``UNBLOCKED``)."""


WRITES_REFUSED: tuple[type[redis.ResponseError], ...] = (
    OutOfMemoryError,
    ReadOnlyError,
    MisconfError,
    # A primary demoted to replica first ends its clients' blocking pops (a Celery
    # worker's wait for messages) with UNBLOCKED, then answers their writes READONLY.
    UnblockedError,
)
"""The replies that mean Redis refuses writes until an operator or a failover acts."""


def register() -> None:
    """Make every Redis client of this process raise the types above for their replies.

    redis-py has types for ``OOM`` and ``READONLY``; this adds :class:`MisconfError` and
    :class:`UnblockedError`.
    """
    BaseParser.EXCEPTION_CLASSES.setdefault("MISCONF", MisconfError)
    BaseParser.EXCEPTION_CLASSES.setdefault("UNBLOCKED", UnblockedError)


register()
