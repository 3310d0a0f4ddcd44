"""An in-process harness: the real Engine and Steps on real Redis and storage.

Published jobs are collected and run inline by Steps, and time is injected, so
scenarios are deterministic and need no sleeps. The Celery-process tests in
tests/integration cover the same flows with real `celery worker` and `beat`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2

from plugins.builtin import ECHO, PYTHON_TASK
from plugins.core import PluginEntry as CorePluginEntry
from plugins.core import PluginRegistry
from plugins.webapi import PluginEntry
from scheduler import Client, Settings
from scheduler.engine import Engine
from scheduler.machine import RetryPolicy
from scheduler.runtime import Runtime
from scheduler.steps import Steps
from tests.engine.fakes import CoreCalls, CountingCorePlugin, RemotePlugin, Service
from tests.helpers import RedisServer


def template(
    task_type: str,
    *,
    retries: int = 0,
    timeout: float | None = None,
    inputs: tuple[str, ...] = ("x",),
) -> tasks_pb2.TaskTemplate:
    t = tasks_pb2.TaskTemplate(type=task_type)
    t.id.name = f"test.{task_type}"
    t.metadata.retries.retries = retries
    if timeout is not None:
        t.metadata.timeout.FromTimedelta(timedelta(seconds=timeout))
    for name in inputs:
        var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.INTEGER))
        t.interface.inputs.variables[name].CopyFrom(var)
        t.interface.outputs.variables[name].CopyFrom(var)
    return t


def ints(**values: int) -> dict[str, literals_pb2.Literal]:
    result = {}
    for key, value in values.items():
        lit = literals_pb2.Literal()
        lit.scalar.primitive.integer = value
        result[key] = lit
    return result


@dataclass
class Harness:
    runtime: Runtime
    engine: Engine
    steps: Steps
    client: Client
    service: Service
    now: datetime
    jobs: list[tuple[str, list[Any], str]] = field(default_factory=list)
    log: list[tuple[str, list[Any], str]] = field(default_factory=list)

    def publish(self, job: str, args: list[Any], queue: str) -> None:
        self.jobs.append((job, args, queue))
        self.log.append((job, args, queue))

    def run_job(self, job: str, args: list[Any]) -> None:
        step = job.rpartition(".")[2]
        if step == "get":
            self.steps.get([(i, a) for i, a in args[0]])
        else:
            getattr(self.steps, step)(*args)

    def tick(self) -> None:
        self.engine.tick(self.now)

    def drain(self, rounds: int = 50) -> None:
        """Tick and run published jobs until nothing more happens at this instant."""
        for _ in range(rounds):
            self.tick()
            if not self.jobs:
                return
            batch, self.jobs = self.jobs, []
            for job, args, _ in batch:
                self.run_job(job, args)
        raise AssertionError("the engine kept producing jobs")

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.steps.clock = lambda: self.now

    def until(self, condition: Callable[[], bool], *, step: float = 1.0, limit: int = 200) -> None:
        for _ in range(limit):
            self.drain()
            if condition():
                return
            self.advance(step)
        raise AssertionError("condition never held")


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def core_calls() -> CoreCalls:
    return CoreCalls()


@pytest.fixture
def harness_factory(
    core_calls: CoreCalls,
    redis_server: RedisServer,
    redis_client: redis.Redis,
    tmp_path: Any,
    service: Service,
) -> Callable[..., Harness]:
    def make(quota: int | None = None, resync: float = 30, **settings: Any) -> Harness:
        registry = PluginRegistry()
        registry.register(ECHO)
        registry.register(PYTHON_TASK)
        registry.register(
            CorePluginEntry("counter", ["counter"], lambda: CountingCorePlugin(core_calls))
        )
        registry.register(
            PluginEntry(
                "remote", ["remote"], lambda: RemotePlugin(service, quota=quota, resync=resync)
            )
        )
        config = Settings(
            redis_url=redis_server.url,
            storage=f"file://{tmp_path}/storage",
            key_prefix=f"t{uuid.uuid4().hex[:8]}",
            **settings,
        )
        runtime = Runtime(config, redis_client, registry=registry)
        policy = RetryPolicy(
            max_system_retries=2, backoff=timedelta(seconds=1), backoff_max=timedelta(seconds=4)
        )
        now = datetime.now(UTC) + timedelta(seconds=1)
        harness = Harness(
            runtime=runtime,
            engine=None,  # type: ignore[arg-type]
            steps=Steps(runtime, policy, clock=lambda: now),
            client=Client(runtime=runtime),
            service=service,
            now=now,
        )
        harness.engine = Engine(runtime, harness.publish, policy)
        return harness

    return make
