"""Redis: every key, the Lua scripts, and the primitives built on them.

- :class:`ExecutionStore`: execution records with compare-and-set transitions,
  event logs and the scheduler's O(due) indexes;
- :class:`RedisResourceManager`: quota tokens with exact scope caps and leases;
- :class:`RedisRateLimiter`: a global GCRA token bucket on Redis's clock;
- :class:`LeaderLease`: the scheduler's leadership;
- :class:`TokenLedger`: which execution holds each quota token;
- :class:`RunLeases`: heartbeated leases of steps in progress;
- :class:`WakeChannel`: wake-ups for the scheduler;
- :class:`DoneChannel`: done messages for clients that wait on an execution;
- :class:`ServedTypes`: the task types live processes serve;
- :class:`ResultCache`: result-cache entries and ``cache_serialize`` reservations;
- :class:`Keys`: every key name;
- :func:`acl_rules`: the Redis ACL rules of each :class:`AclRole`.

Everything here does I/O on Redis (and, for the cache, storage); none of it knows
about plugins or Celery.
"""

from __future__ import annotations

from scheduler.backend.acl import AclRole, acl_rules, setuser_command
from scheduler.backend.cache import Reservation, ResultCache
from scheduler.backend.done import DoneChannel
from scheduler.backend.keys import Keys
from scheduler.backend.lease import LeaderLease
from scheduler.backend.limiter import RedisRateLimiter
from scheduler.backend.quota import DEFAULT_LEASE, QuotaMetrics, RedisResourceManager
from scheduler.backend.runs import RunLeases
from scheduler.backend.served import SERVED_LIFETIME, SERVED_PERIOD, ServedTypes
from scheduler.backend.store import DEFAULT_EVENT_LOG_CAP, DEFAULT_RETENTION, ExecutionStore
from scheduler.backend.tokens import TokenLedger
from scheduler.backend.wake import WakeChannel

__all__ = [
    "DEFAULT_EVENT_LOG_CAP",
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "SERVED_LIFETIME",
    "SERVED_PERIOD",
    "AclRole",
    "DoneChannel",
    "ExecutionStore",
    "Keys",
    "LeaderLease",
    "QuotaMetrics",
    "RedisRateLimiter",
    "RedisResourceManager",
    "Reservation",
    "ResultCache",
    "RunLeases",
    "ServedTypes",
    "TokenLedger",
    "WakeChannel",
    "acl_rules",
    "setuser_command",
]
