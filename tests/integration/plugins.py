"""Plugins the integration tests register in real workers through FLYTE_CELERY_PLUGINS.

The remote-job ones are tests.remote_job's plugin on the HTTP job service of
tests/integration/jobservice.py (the workers find its URL in JOB_SERVICE_URL); their
quotas, rate limits and resync come from the stack's plugins.yaml (tests/integration/stack.py).
"""

from __future__ import annotations

from typing import Any

from plugins.core import PluginEntry as CorePluginEntry
from plugins.webapi import PluginEntry
from tests.core_rounds import CountingCorePlugin
from tests.remote_job import HTTPJobService, RemoteJobPlugin


def http_job() -> RemoteJobPlugin:
    # The class is the factory: each worker process builds its client on first use.
    return RemoteJobPlugin(HTTPJobService)


def flaky_create() -> RemoteJobPlugin:
    """Fails the Create of attempt 0, then behaves."""
    return RemoteJobPlugin(HTTPJobService, fail_first_attempt=True)


ENTRIES: list[Any] = [
    PluginEntry("http-job", ["http_job"], http_job),
    PluginEntry("flaky-create", ["flaky_create"], flaky_create),
    CorePluginEntry("rounds", ["rounds"], lambda: CountingCorePlugin(plugin_id="rounds")),
]
"""Registered in the workers and the scheduler by FLYTE_CELERY_PLUGINS."""

ONLY_IN_CLIENT = PluginEntry("ghost", ["ghost"], http_job)
"""Known to a client but to no worker: its executions fail in the engine, clearly."""

MORE = [
    PluginEntry("http-job-capped", ["http_job_capped"], http_job),
    PluginEntry("http-job-limited", ["http_job_limited"], http_job),
]
"""Also registered by the stack: the quota-cap and write-limiter tests' own plugin ids."""
