"""The engine tests run on scheduler.testing's Harness: real Engine and Steps, real Redis.

Published jobs are collected and run inline by the worker steps, and time is
injected through one ManualClock, so scenarios are deterministic and need no
sleeps. The Celery-process tests in tests/integration cover the same flows with
real `celery worker` and `beat`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import yaml
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin import ECHO, PYTHON_TASK
from plugins.core import PluginEntry as CorePluginEntry
from plugins.core import PluginRegistry, PluginSetupContext
from plugins.flyte2.connectors import flyte2_entries
from plugins.flytekit.connectors import connector_entries
from plugins.flytekit.service import connector_service_entries
from plugins.webapi import PluginConfig, PluginEntry
from scheduler import Settings
from scheduler._runtime import Runtime
from scheduler.clock import ManualClock
from scheduler.testing import Harness
from tests.core_rounds import CoreCalls, CountingCorePlugin
from tests.helpers import INTEGER, RedisServer, task_template
from tests.remote_job import MemoryJobService, RemoteJobPlugin


def template(
    task_type: str,
    *,
    retries: int = 0,
    timeout: float | None = None,
    inputs: tuple[str, ...] = ("x",),
) -> tasks_pb2.TaskTemplate:
    """The engine tests' template: integer inputs, each also an output of the same name."""
    declared = dict.fromkeys(inputs, INTEGER)
    return task_template(
        task_type,
        name=f"test.{task_type}",
        inputs=declared,
        outputs=declared,
        retries=retries,
        timeout=timeout,
    )


def finished(execution: Any) -> Callable[[], bool]:
    """A condition for Harness.until: the execution is over (no more attempts)."""
    return lambda: bool(execution.refresh().record.finished)


def ints(**values: int) -> dict[str, literals_pb2.Literal]:
    result = {}
    for key, value in values.items():
        lit = literals_pb2.Literal()
        lit.scalar.primitive.integer = value
        result[key] = lit
    return result


class EngineHarness(Harness):
    """The Harness plus the in-memory remote service its 'remote' plugin talks to."""

    def __init__(self, runtime: Runtime, service: MemoryJobService) -> None:
        super().__init__(runtime)
        self.service = service

    def succeed_jobs(self, executions: list[Any], at_once: int, rounds: int = 40) -> None:
        """Let each remote job that runs succeed, a resync at a time, until all finished.

        Raises:
            AssertionError: More than ``at_once`` jobs ran at a time, or the executions did
                not all finish within ``rounds`` resyncs.
        """
        for _ in range(rounds):
            for name, state in list(self.service.jobs.items()):
                if state == "RUNNING":
                    self.service.jobs[name] = "SUCCEEDED"
            self.advance(timedelta(seconds=31))
            self.drain()
            assert self.service.running() <= at_once
            if all(finished(e)() for e in executions):
                return
        raise AssertionError("the executions did not finish")


@pytest.fixture
def service() -> MemoryJobService:
    return MemoryJobService()


@pytest.fixture
def core_calls() -> CoreCalls:
    return CoreCalls()


@pytest.fixture
def harness_factory(
    core_calls: CoreCalls,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    tmp_path: Any,
    service: MemoryJobService,
) -> Iterator[Callable[..., EngineHarness]]:
    made: list[Runtime] = []

    def make(
        quota: int | None = None,
        resync: float = 30,
        plugin_configs: dict[str, Any] | None = None,
        **settings: Any,
    ) -> EngineHarness:
        # plugin_configs: sections of FLYTE_CELERY_PLUGIN_CONFIG (connector-service's...).
        plugin_configs = plugin_configs or {}
        registry = PluginRegistry(PluginSetupContext(plugin_configs=plugin_configs))
        registry.register(ECHO)
        registry.register(PYTHON_TASK)
        for entry in connector_entries():  # flytekit's sensor and webhook, in process
            registry.register(entry)
        for entry in flyte2_entries():  # Flyte 2's, in process (tests.flyte2.jobs if imported)
            registry.register(entry)
        for entry in connector_service_entries():  # connectors over gRPC
            registry.register(entry)
        if plugin_configs:
            config_file = tmp_path / "plugins.yaml"
            config_file.write_text(yaml.safe_dump(plugin_configs))
            settings["plugin_config"] = config_file
        registry.register(
            CorePluginEntry("counter", ["counter"], lambda: CountingCorePlugin(core_calls))
        )
        # Two system failures end an attempt, so the failure-budget tests stay short.
        data: dict[str, Any] = {"caching": {"resyncInterval": resync, "maxSystemFailures": 2}}
        if quota is not None:
            data["resourceQuotas"] = {"default": quota}
        plugin_config = PluginConfig.model_validate(data)
        registry.register(
            PluginEntry("remote", ["remote"], lambda: RemoteJobPlugin(service, plugin_config))
        )
        config = Settings(
            redis_url=redis_server.url,
            storage=settings.pop("storage", f"file://{tmp_path}/storage"),
            key_prefix=f"t{uuid.uuid4().hex[:8]}",
            max_system_retries=2,
            system_retry_backoff=timedelta(seconds=1),
            system_retry_backoff_max=timedelta(seconds=4),
            **settings,
        )
        runtime = Runtime(config, redis_client, registry=registry, clock=ManualClock())
        made.append(runtime)
        return EngineHarness(runtime, service)

    yield make
    for runtime in made:
        runtime.plugins.close()  # stops connector discovery threads
