"""The realistic scale benchmark's plugins: they poll tests.benchmarks.httpjobs over HTTP.

Written as users write them, each with pooled connections:

- ``http-blocking``: plain ``def`` methods with a blocking client, ``urllib3``'s thread-safe
  ``PoolManager`` (a keep-alive pool as large as the plugin's ``caching.workers``);
- ``http-async``: ``async def`` methods with one ``aiohttp.ClientSession`` per worker
  process, made on first use on the process's plugin-call loop, which outlives jobs, so its
  connections serve every job;
- ``http-requests``: plain ``def`` methods with ``requests`` (a ``Session`` per thread), the
  most common blocking client; not run by default (FLYTE_CELERY_BENCH_PLUGINS picks it): it
  costs about three times ``urllib3``'s CPU per call.

The service's URL is HTTP_JOBS_URL; FLYTE_CELERY_BENCH_HTTP_WORKERS sets ``caching.workers``
(600); FLYTE_CELERY_BENCH_HOLD_RESYNC the resync; no rate limit holds them back.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import aiohttp
import requests
import urllib3

from plugins.core import PhaseInfo, TaskInfo
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)

UNLIMITED = {"qps": 100000, "burst": 10000}


def workers() -> int:
    """The plugins' ``caching.workers``."""
    return int(os.environ.get("FLYTE_CELERY_BENCH_HTTP_WORKERS", "600"))


def _config() -> PluginConfig:
    resync = os.environ.get("FLYTE_CELERY_BENCH_HOLD_RESYNC", "30s")
    return PluginConfig.model_validate(
        {
            "caching": {"resyncInterval": resync, "size": 500000, "workers": workers()},
            "readRateLimiter": UNLIMITED,
            "writeRateLimiter": UNLIMITED,
        }
    )


class _JobsPlugin(AsyncPlugin[str, str]):
    """What the three share: the handle is the job's name; Status maps its state."""

    def __init__(self) -> None:
        self.url = os.environ["HTTP_JOBS_URL"]
        self._config = _config()

    def get_config(self) -> PluginConfig:
        return self._config

    @staticmethod
    def name(ctx: TaskExecutionContextReader) -> str:
        return ctx.task_execution_metadata.task_execution_id.generated_name

    def status(self, ctx: StatusContext[str, str]) -> PhaseInfo:
        if ctx.resource == "SUCCEEDED":
            return PhaseInfo.success()
        if ctx.resource == "DELETED":
            return PhaseInfo.failure("JobDeleted", f"job {ctx.resource_meta} was deleted")
        return PhaseInfo.running(1, TaskInfo(custom_info={"job": ctx.resource_meta}))


class BlockingHTTPJobs(_JobsPlugin):
    """``http-blocking``: plain ``def`` methods, ``urllib3`` with a keep-alive pool."""

    def __init__(self) -> None:
        super().__init__()
        self._http = urllib3.PoolManager(
            maxsize=workers(), retries=False, timeout=urllib3.Timeout(total=30)
        )

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(
            method, self.url + path, body=None if body is None else json.dumps(body)
        )
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}")
        return json.loads(response.data)

    def create(self, ctx: TaskExecutionContextReader) -> tuple[str, str | None]:
        name = self.name(ctx)
        self._call("POST", "/jobs", {"name": name})
        return name, None

    def get(self, ctx: GetContext[str]) -> str:
        return str(self._call("GET", f"/jobs/{ctx.resource_meta}")["state"])

    def delete(self, ctx: DeleteContext[str]) -> None:
        if ctx.resource_meta is not None:
            self._call("DELETE", f"/jobs/{ctx.resource_meta}")


class RequestsHTTPJobs(BlockingHTTPJobs):
    """``http-requests``: plain ``def`` methods with a ``requests.Session`` per thread."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        response = session.request(method, self.url + path, json=body, timeout=30)
        response.raise_for_status()
        return response.json()


class AsyncHTTPJobs(_JobsPlugin):
    """``http-async``: ``async def`` methods, one ``aiohttp`` session per worker process."""

    def __init__(self) -> None:
        super().__init__()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Made on the process's plugin-call loop, which every later call runs on too.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=workers())
            timeout = aiohttp.ClientTimeout(total=30)
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self._session

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        async with self._client().request(method, self.url + path, json=body) as response:
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: HTTP {response.status}")
            return await response.json()

    async def create(self, ctx: TaskExecutionContextReader) -> tuple[str, str | None]:
        name = self.name(ctx)
        await self._call("POST", "/jobs", {"name": name})
        return name, None

    async def get(self, ctx: GetContext[str]) -> str:
        return str((await self._call("GET", f"/jobs/{ctx.resource_meta}"))["state"])

    async def delete(self, ctx: DeleteContext[str]) -> None:
        if ctx.resource_meta is not None:
            await self._call("DELETE", f"/jobs/{ctx.resource_meta}")


ENTRIES = [
    PluginEntry("http-blocking", ["http-blocking"], BlockingHTTPJobs),
    PluginEntry("http-async", ["http-async"], AsyncHTTPJobs),
    PluginEntry("http-requests", ["http-requests"], RequestsHTTPJobs),
]
