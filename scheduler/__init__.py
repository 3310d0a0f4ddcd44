"""flyte-celery's control plane; this package's top level is the user's API.

>>> from scheduler import Client                              # doctest: +SKIP
>>> with Client.from_settings() as client:                    # doctest: +SKIP
...     print(client.submit(template, inputs).result(timeout=60))

The path of an execution runs down the tree, and imports only ever point down it:

- :mod:`scheduler.cli`: the ``flyte-celery`` command, the standalone stack, the demo;
- :mod:`scheduler.testing`: the engine harness for plugin authors' tests;
- :mod:`scheduler.client`: submission and the :class:`Execution` handle;
- :mod:`scheduler.engine`: the scheduler's tick (in ``celery beat``);
- :mod:`scheduler.steps`: what a worker does for each job;
- :mod:`scheduler.runtime`: the wiring of one process;
- :mod:`scheduler.backend`: Redis keys, scripts, store, quotas, limiters, leases, cache;
- :mod:`scheduler.model`: pure state: records, the state machine, steps and claims;
- :mod:`scheduler.settings` and :mod:`scheduler.clock`: leaves everything may import.

Imports between the top-level packages flow one way: ``worker`` → ``scheduler`` →
``plugins``.
"""

from __future__ import annotations

from plugins.deprecation import moved_names as _moved_names
from plugins.errors import (
    AccessDeniedError,
    BackendUnavailableError,
    ConfigError,
    ContentionError,
    ExecutionExistsError,
    ExecutionFailedError,
    ExecutionNotFoundError,
    ExecutionTimeoutError,
    FlyteCeleryError,
    InvalidSubmissionError,
    PluginNotFoundError,
    StorageError,
)
from scheduler.client import Client, Execution, Submission
from scheduler.clock import Clock, ManualClock
from scheduler.model import CacheStatus
from scheduler.settings import Settings

__all__ = [
    "AccessDeniedError",
    "BackendUnavailableError",
    "CacheStatus",
    "Client",
    "Clock",
    "ConfigError",
    "ContentionError",
    "Execution",
    "ExecutionExistsError",
    "ExecutionFailedError",
    "ExecutionNotFoundError",
    "ExecutionTimeoutError",
    "FlyteCeleryError",
    "InvalidSubmissionError",
    "ManualClock",
    "PluginNotFoundError",
    "Settings",
    "StorageError",
    "Submission",
]

# Names this package exported before the layout change, and where they live now. They
# still resolve, with a DeprecationWarning, until the next minor release.
_MOVED = {
    "DEFAULT_EVENT_LOG_CAP": "scheduler.backend",
    "DEFAULT_LEASE": "scheduler.backend",
    "DEFAULT_RETENTION": "scheduler.backend",
    "ExecutionStore": "scheduler.backend",
    "QuotaMetrics": "scheduler.backend",
    "RedisRateLimiter": "scheduler.backend",
    "RedisResourceManager": "scheduler.backend",
    "Event": "scheduler.model",
    "ExecutionRecord": "scheduler.model",
    "WebAPIPhase": "scheduler.model",
    "WebAPIState": "scheduler.model",
    "execution_id": "scheduler.model",
}


__getattr__ = _moved_names(__name__, _MOVED)
