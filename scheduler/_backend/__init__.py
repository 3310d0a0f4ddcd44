"""Redis: every key, the Lua scripts, and the primitives built on them.

- :class:`ExecutionStore`: execution records with compare-and-set transitions,
  event logs and the scheduler's O(due) indexes;
- :class:`RedisResourceManager`: quota tokens with exact scope caps and leases;
- :class:`RedisRateLimiter`: a global GCRA token bucket on Redis's clock;
- :class:`LeaderLease`: a shard scheduler's leadership; :class:`Beats`: the scheduler
  processes that share the shards;
- :class:`TokenLedger`: which execution holds each quota token;
- :class:`RunLeases`: heartbeated leases of steps in progress;
- :class:`WakeChannel`: wake-ups for the scheduler;
- :class:`DoneChannel`: done messages for clients that wait on an execution;
- :class:`ServedTypes`: the task types live processes serve;
- :class:`ResultCache`: result-cache entries and ``cache_serialize`` reservations;
- :class:`Keys`: every key name; :class:`ShardMap`: every shard's, and each execution's shard;
- :func:`acl_rules`: the Redis ACL rules of each :class:`AclRole`.

Everything here does I/O on Redis (and, for the cache, storage); none of it knows
about plugins or Celery.
"""

from __future__ import annotations

from scheduler._backend.acl import AclRole, acl_rules, setuser_command
from scheduler._backend.api_tokens import TOKEN_PREFIX, ApiTokens, SigninFailures, TokenInfo
from scheduler._backend.beats import Beats
from scheduler._backend.cache import Reservation, ResultCache
from scheduler._backend.connection import connect, node_of_a_cluster
from scheduler._backend.done import DoneChannel, DoneWatch
from scheduler._backend.indexes import NAME_CLAIM, DueOutlook, PhaseCount
from scheduler._backend.keys import Keys
from scheduler._backend.lease import LeaderLease
from scheduler._backend.limiter import RedisRateLimiter
from scheduler._backend.quota import DEFAULT_LEASE, QuotaMetrics, RedisResourceManager
from scheduler._backend.refusals import WRITES_REFUSED
from scheduler._backend.runs import RunLeases, run_member
from scheduler._backend.served import SERVED_LIFETIME, SERVED_PERIOD, ServedTypes
from scheduler._backend.shards import ShardMap
from scheduler._backend.store import DEFAULT_EVENT_LOG_CAP, DEFAULT_RETENTION, ExecutionStore
from scheduler._backend.tokens import TokenLedger
from scheduler._backend.wake import WakeChannel

__all__ = [
    "DEFAULT_EVENT_LOG_CAP",
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "NAME_CLAIM",
    "SERVED_LIFETIME",
    "SERVED_PERIOD",
    "TOKEN_PREFIX",
    "WRITES_REFUSED",
    "AclRole",
    "ApiTokens",
    "Beats",
    "DoneChannel",
    "DoneWatch",
    "DueOutlook",
    "ExecutionStore",
    "Keys",
    "LeaderLease",
    "PhaseCount",
    "QuotaMetrics",
    "RedisRateLimiter",
    "RedisResourceManager",
    "Reservation",
    "ResultCache",
    "RunLeases",
    "ServedTypes",
    "ShardMap",
    "SigninFailures",
    "TokenInfo",
    "TokenLedger",
    "WakeChannel",
    "acl_rules",
    "connect",
    "node_of_a_cluster",
    "run_member",
    "setuser_command",
]
