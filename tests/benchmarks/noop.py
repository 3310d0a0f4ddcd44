"""Plugins and a raw Celery app for the engine benchmark."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

from plugins.core import PhaseInfo
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)

_redis: redis.Redis | None = None


def _client() -> redis.Redis:
    global _redis  # noqa: PLW0603 - one connection per worker process
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["FLYTE_CELERY_REDIS_URL"])
    return _redis


class NoopPlugin(AsyncPlugin[dict[str, float], bool]):
    """Create records when it was called; the job is done after its 'delay' (from the template)."""

    def get_config(self) -> PluginConfig:
        unlimited = {"qps": 100000, "burst": 10000}
        return PluginConfig.model_validate(
            {
                "caching": {"resyncInterval": "5s"},
                "readRateLimiter": unlimited,
                "writeRateLimiter": unlimited,
            }
        )

    def create(self, ctx: TaskExecutionContextReader) -> tuple[dict[str, float], bool | None]:
        now = time.time()
        name = ctx.task_execution_metadata.task_execution_id.execution_name
        _client().hset("bench:created", name, now)
        delay = ctx.task_reader.read().custom.fields["delay"].number_value
        return {"done_at": now + delay}, None

    def get(self, ctx: GetContext[dict[str, float]]) -> bool:
        return time.time() >= ctx.resource_meta["done_at"]

    def delete(self, ctx: DeleteContext[dict[str, float]]) -> None:
        del ctx

    def status(self, ctx: StatusContext[dict[str, float], bool]) -> PhaseInfo:
        return PhaseInfo.success() if ctx.resource else PhaseInfo.running(1)


ENTRIES = [PluginEntry("noop", ["noop"], NoopPlugin)]

raw = Celery("raw", broker=os.environ.get("FLYTE_CELERY_REDIS_URL", "redis://127.0.0.1:6379/0"))
raw.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_default_queue="raw-bench",
    # The same reliability and event settings as flyte-celery's own app (worker/app.py),
    # so the ratio compares like with like.
    worker_send_task_events=True,
    task_send_sent_event=True,
)


@raw.task(name="raw.noop")  # type: ignore[untyped-decorator]
def raw_noop() -> None:
    """A no-op that counts itself, so the benchmark knows when all ran."""
    _client().incr("bench:raw-done")
