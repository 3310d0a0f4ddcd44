"""Redis refusing writes for now: out of memory, a read-only replica, a failed snapshot.

Such a Redis answers, so redis-py raises a :class:`redis.ResponseError` rather than a
connection error, and code that treats only lost connections as an outage (kombu, Celery,
a worker's write-back) would take the refusal for a bug. These are the refusals, as
types: ``OOM`` (``maxmemory`` with ``noeviction``, as the README asks), ``READONLY`` (a
replica, or a primary demoted in a failover) and ``MISCONF`` (the last snapshot failed and
``stop-writes-on-bgsave-error`` holds writes). redis-py has a type for the first two;
:func:`register` gives ``MISCONF`` one, :class:`MisconfError`, in every client of the
process.
"""

from __future__ import annotations

import redis
from redis._parsers.base import BaseParser
from redis.exceptions import OutOfMemoryError, ReadOnlyError

__all__ = ["WRITES_REFUSED", "MisconfError", "register"]


class MisconfError(redis.ResponseError):
    """Redis refuses writes: its last snapshot failed (``MISCONF``)."""


WRITES_REFUSED: tuple[type[redis.ResponseError], ...] = (
    OutOfMemoryError,
    ReadOnlyError,
    MisconfError,
)
"""The replies that mean Redis refuses writes until an operator or a failover acts."""


def register() -> None:
    """Make every Redis client of this process raise :class:`MisconfError` for ``MISCONF``."""
    BaseParser.EXCEPTION_CLASSES.setdefault("MISCONF", MisconfError)


register()
