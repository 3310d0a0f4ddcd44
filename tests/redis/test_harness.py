"""scheduler.testing as a plugin author uses it: their plugin, a real Redis, injected time."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin import ECHO
from plugins.core import Phase, PhaseInfo, PluginRegistry
from plugins.errors import ConfigError
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)
from scheduler import Settings
from scheduler._model import Step
from scheduler._runtime import Runtime
from scheduler.testing import Harness, RedisServer

POLLS: Counter[str] = Counter()


class ThreePolls(AsyncPlugin[str, int]):
    """An author's plugin: its job is done at the third Get, polled every 10 s."""

    def get_config(self) -> PluginConfig:
        return PluginConfig.model_validate(
            {"caching": {"resyncInterval": "10s", "pollBackoff": "0s"}}
        )

    def create(self, ctx: TaskExecutionContextReader) -> tuple[str, int | None]:
        return ctx.task_execution_metadata.task_execution_id.generated_name, None

    def get(self, ctx: GetContext[str]) -> int:
        POLLS[ctx.resource_meta] += 1
        return POLLS[ctx.resource_meta]

    def delete(self, ctx: DeleteContext[str]) -> None:
        del ctx

    def status(self, ctx: StatusContext[str, int]) -> PhaseInfo:
        return PhaseInfo.success() if ctx.resource >= 3 else PhaseInfo.running(ctx.resource)


@pytest.fixture
def harness(redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path) -> Harness:
    registry = PluginRegistry()
    registry.register(ECHO)
    registry.register(PluginEntry("three-polls", ["three_polls"], ThreePolls))
    settings = Settings(
        redis_url=redis_server.url,
        storage=f"file://{tmp_path}",
        key_prefix=f"h{uuid.uuid4().hex[:8]}",
    )
    return Harness.create(settings, registry=registry, redis_client=redis_client)


def test_a_sync_plugin_finishes_in_one_drain(harness: Harness) -> None:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.integer = 7
    ex = harness.client.submit(tasks_pb2.TaskTemplate(type="echo"), {"n": lit})
    harness.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert ex.outputs().literals["n"].scalar.primitive.integer == 7
    assert [job.step for job in harness.log] == [Step.DO]


def test_an_async_plugin_is_polled_on_the_injected_clock(harness: Harness) -> None:
    ex = harness.client.submit(tasks_pb2.TaskTemplate(type="three_polls"))
    harness.drain()  # Create, and the first Get at once
    assert ex.refresh().phase is Phase.RUNNING
    harness.advance(timedelta(seconds=9))
    harness.drain()
    assert POLLS[ex.record.token] == 1, "the next Get waits for the resync interval (no back-off)"
    harness.until(lambda: ex.refresh().phase is Phase.SUCCESS, step=timedelta(seconds=1))
    assert POLLS[ex.record.token] == 3
    # One clock for the client, the engine and the steps: every event is on it.
    assert all(e.occurred_at <= harness.now for e in ex.events())
    assert ex.record.created_at < ex.record.updated_at <= harness.now


def test_a_harness_needs_a_manual_clock(redis_client: redis.Redis, tmp_path: Path) -> None:
    runtime = Runtime(Settings(storage=f"file://{tmp_path}"), redis_client)
    with pytest.raises(ConfigError, match="ManualClock"):
        Harness(runtime)


def test_the_private_redis_server_starts_and_stops(tmp_path: Path) -> None:
    with RedisServer.start(tmp_path) as server:
        client = server.client()
        assert client.ping()
        client.close()
    assert server.process.poll() is not None
