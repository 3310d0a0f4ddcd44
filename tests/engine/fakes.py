"""Plugins for the engine tests: a remote 'service' held in memory, with counters."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from plugins.core import (
    PhaseInfo,
    PluginProperties,
    ResourceConstraintsSpec,
    ResourceNamespace,
    TaskInfo,
    Transition,
    do_transition,
)
from plugins.core import TaskExecutionContext as CoreTaskExecutionContext
from plugins.io import InMemoryOutputReader
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    StatusContext,
    TaskExecutionContextReader,
)


@dataclass
class Service:
    """A remote job service: jobs by name, and what was asked of it."""

    jobs: dict[str, str] = field(default_factory=dict)
    creates: Counter[str] = field(default_factory=Counter)
    deletes: list[tuple[str | None, str]] = field(default_factory=list)
    gets: int = 0
    fail_creates: int = 0
    fail_gets_after: int | None = None
    on_delete: Callable[[], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> int:
        return sum(1 for s in self.jobs.values() if s == "RUNNING")


@dataclass(frozen=True)
class Handle:
    name: str


class RemotePlugin(AsyncPlugin[Handle, str]):
    """Creates jobs in a Service; quota 'default' of 2, project cap from the 'cap' input."""

    def __init__(self, service: Service, quota: int | None = None, resync: float = 30) -> None:
        self.service = service
        self.quota = quota
        self.resync = resync

    def get_config(self) -> PluginConfig:
        data: dict[str, object] = {
            "caching": {"resyncInterval": self.resync, "maxSystemFailures": 2}
        }
        if self.quota is not None:
            data["resourceQuotas"] = {"default": self.quota}
        config = PluginConfig.model_validate(data)
        return PluginConfig(**config.model_dump(), resource_meta=Handle)

    def resource_requirements(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ResourceNamespace, ResourceConstraintsSpec]:
        return ResourceNamespace("default"), ResourceConstraintsSpec()

    def create(self, ctx: TaskExecutionContextReader) -> tuple[Handle, str | None]:
        name = ctx.task_execution_metadata.task_execution_id.generated_name
        ctx.input_reader.get()  # a malformed inputs.pb fails here, as in Flyte's connector
        with self.service.lock:
            self.service.creates[name] += 1
            if self.service.fail_creates > 0:
                self.service.fail_creates -= 1
                raise ConnectionError("service unavailable")
            self.service.jobs.setdefault(name, "RUNNING")
        return Handle(name), None

    def get(self, ctx: GetContext[Handle]) -> str:
        with self.service.lock:
            self.service.gets += 1
            limit = self.service.fail_gets_after
            if limit is not None and self.service.gets > limit:
                raise TimeoutError(f"get #{self.service.gets} timed out")
            return self.service.jobs[ctx.resource_meta.name]

    def delete(self, ctx: DeleteContext[Handle]) -> None:
        with self.service.lock:
            name = None if ctx.resource_meta is None else ctx.resource_meta.name
            self.service.deletes.append((name, ctx.reason))
            if name is not None:
                self.service.jobs[name] = "DELETED"
        if self.service.on_delete is not None:
            self.service.on_delete()

    def status(self, ctx: StatusContext[Handle, str]) -> PhaseInfo:
        if ctx.resource == "SUCCEEDED":
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return PhaseInfo.success()
        if ctx.resource == "FAILED":
            return PhaseInfo.retryable_failure("JobFailed", "the job failed")
        return PhaseInfo.running(1, TaskInfo(custom_info={"job": ctx.resource_meta.name}))


@dataclass
class CoreCalls:
    rounds: list[int] = field(default_factory=list)
    aborts: int = 0
    finalizes: int = 0
    rounds_to_finish: int = 3


class CountingCorePlugin:
    """A core plugin: counts rounds in its plugin state, asks for the next round at once."""

    def __init__(self, calls: CoreCalls) -> None:
        self.calls = calls

    def get_id(self) -> str:
        return "counter"

    def get_properties(self) -> PluginProperties:
        return PluginProperties()

    def handle(self, ctx: CoreTaskExecutionContext) -> Transition:
        _, state = ctx.plugin_state_reader.get()
        n = (state or {}).get("n", 0) + 1
        self.calls.rounds.append(n)
        if n >= self.calls.rounds_to_finish:
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return do_transition(PhaseInfo.success())
        ctx.plugin_state_writer.put(1, {"n": n})
        ctx.task_refresh_indicator()
        return do_transition(PhaseInfo.running(n))

    def abort(self, ctx: CoreTaskExecutionContext) -> None:
        self.calls.aborts += 1

    def finalize(self, ctx: CoreTaskExecutionContext) -> None:
        self.calls.finalizes += 1
