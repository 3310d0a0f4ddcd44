"""flyte-celery's control plane; this package's top level is the user's API.

>>> from scheduler import Client                              # doctest: +SKIP
>>> with Client.from_settings() as client:                    # doctest: +SKIP
...     print(client.submit(template, inputs).result(timeout=60))

The path of an execution runs down the tree, and imports only ever point down it:

- :mod:`scheduler.cli`: the ``flyte-celery`` command, the standalone stack, the demo;
- :mod:`scheduler.testing`: the engine harness for plugin authors' tests;
- :mod:`scheduler._client`: submission and the :class:`Execution` handle;
- :mod:`scheduler._engine`: the scheduler's tick (in ``celery beat``);
- :mod:`scheduler._steps`: what a worker does for each job;
- :mod:`scheduler._runtime`: the wiring of one process;
- :mod:`scheduler._backend`: Redis keys, scripts, store, quotas, limiters, leases, cache;
- :mod:`scheduler._model`: pure state: records, the state machine, steps and claims;
- :mod:`scheduler.settings` and :mod:`scheduler.clock`: leaves everything may import.

Imports between the top-level packages flow one way: ``worker`` → ``scheduler`` →
``plugins``.
"""

from __future__ import annotations

from plugins.core import ExecutionError, Phase, PhaseInfo
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
from scheduler._backend import PhaseCount
from scheduler._client import Client, Execution, RemoteClient, Submission, acting_as
from scheduler._model import CacheStatus, Cursor, Event, ExecutionFilter, ExecutionRecord
from scheduler.clock import Clock, ManualClock
from scheduler.settings import Settings

__all__ = [
    "AccessDeniedError",
    "BackendUnavailableError",
    "CacheStatus",
    "Client",
    "Clock",
    "ConfigError",
    "ContentionError",
    "Cursor",
    "Event",
    "Execution",
    "ExecutionError",
    "ExecutionExistsError",
    "ExecutionFailedError",
    "ExecutionFilter",
    "ExecutionNotFoundError",
    "ExecutionRecord",
    "ExecutionTimeoutError",
    "FlyteCeleryError",
    "InvalidSubmissionError",
    "ManualClock",
    "Phase",
    "PhaseCount",
    "PhaseInfo",
    "PluginNotFoundError",
    "RemoteClient",
    "Settings",
    "StorageError",
    "Submission",
    "acting_as",
]
