"""flyte-celery's control plane.

Settings, the Redis execution store, quotas, rate limiters, the phase state
machine, the beat scheduler, the submission client and the CLI.

Imports flow one way: ``worker`` → ``scheduler`` → ``plugins``.
"""

from __future__ import annotations

from scheduler.client import Client, Execution, ExecutionNotFoundError, InvalidSubmissionError
from scheduler.quota import DEFAULT_LEASE, QuotaMetrics, RedisResourceManager
from scheduler.ratelimit import RedisRateLimiter
from scheduler.records import Event, ExecutionRecord, WebAPIPhase, WebAPIState, execution_id
from scheduler.settings import Settings
from scheduler.store import (
    DEFAULT_EVENT_LOG_CAP,
    DEFAULT_RETENTION,
    ExecutionExistsError,
    ExecutionStore,
)

__all__ = [
    "DEFAULT_EVENT_LOG_CAP",
    "DEFAULT_LEASE",
    "DEFAULT_RETENTION",
    "Client",
    "Event",
    "Execution",
    "ExecutionExistsError",
    "ExecutionNotFoundError",
    "ExecutionRecord",
    "ExecutionStore",
    "InvalidSubmissionError",
    "QuotaMetrics",
    "RedisRateLimiter",
    "RedisResourceManager",
    "Settings",
    "WebAPIPhase",
    "WebAPIState",
    "execution_id",
]
