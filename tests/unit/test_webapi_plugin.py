"""The AsyncPlugin/SyncPlugin contract: sync or async methods, contexts, entries."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import pytest

from plugins.core import PhaseInfo, PluginSetupContext, ResourceConstraintsSpec, ResourceNamespace
from plugins.webapi import (
    DEFAULT_PLUGIN_CONFIG,
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginEntry,
    StatusContext,
    SyncPlugin,
    TaskExecutionContext,
    TaskExecutionContextReader,
    call_async,
    call_sync,
)


@dataclass(frozen=True)
class Meta:
    job_id: str


class SyncStyle(AsyncPlugin[Meta, str]):
    def create(self, ctx: TaskExecutionContextReader) -> tuple[Meta, str | None]:
        del ctx
        return Meta("j1"), None

    def get(self, ctx: GetContext[Meta]) -> str:
        return f"state-of-{ctx.resource_meta.job_id}"

    def delete(self, ctx: DeleteContext[Meta]) -> None:
        assert ctx.resource_meta is None or isinstance(ctx.resource_meta, Meta)

    def status(self, ctx: StatusContext[Meta, str]) -> PhaseInfo:
        return PhaseInfo.success() if ctx.resource == "done" else PhaseInfo.running(1)


class AsyncStyle(AsyncPlugin[Meta, str]):
    async def create(self, ctx: TaskExecutionContextReader) -> tuple[Meta, str | None]:
        del ctx
        return Meta("j2"), "done"

    async def get(self, ctx: GetContext[Meta]) -> str:
        await asyncio.sleep(0)
        return ctx.resource_meta.job_id

    async def delete(self, ctx: DeleteContext[Meta]) -> None:
        del ctx

    async def status(self, ctx: StatusContext[Meta, str]) -> PhaseInfo:
        del ctx
        return PhaseInfo.success()


def test_async_plugin_is_abstract() -> None:
    class Incomplete(AsyncPlugin[Meta, str]):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_defaults() -> None:
    plugin = SyncStyle()
    assert plugin.get_config() is DEFAULT_PLUGIN_CONFIG
    ns, spec = call_sync(plugin.resource_requirements, None)
    assert ns == ResourceNamespace("default")
    assert spec == ResourceConstraintsSpec()


def test_call_sync_runs_both_styles() -> None:
    assert call_sync(SyncStyle().get, GetContext(Meta("a"))) == "state-of-a"
    assert call_sync(AsyncStyle().get, GetContext(Meta("b"))) == "b"
    assert call_sync(AsyncStyle().create, None) == (Meta("j2"), "done")


def test_call_async_runs_sync_methods_off_the_loop() -> None:
    loop_thread: list[int] = []
    call_threads: list[int] = []

    def blocking(x: int) -> int:
        call_threads.append(threading.get_ident())
        return x * 2

    async def main() -> list[int]:
        loop_thread.append(threading.get_ident())
        return await asyncio.gather(*(call_async(blocking, i) for i in range(5)))

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]
    assert loop_thread[0] not in call_threads


def test_call_async_runs_coroutines_concurrently_on_one_loop() -> None:
    started = 0
    both_started = asyncio.Event

    async def main() -> list[str]:
        gate = both_started()

        class Waiting(AsyncStyle):
            async def get(self, ctx: GetContext[Meta]) -> str:
                nonlocal started
                started += 1
                if started == 3:
                    gate.set()
                await asyncio.wait_for(gate.wait(), 5)
                return ctx.resource_meta.job_id

        plugin = Waiting()
        return await asyncio.gather(
            *(call_async(plugin.get, GetContext(Meta(str(i)))) for i in range(3))
        )

    assert asyncio.run(main()) == ["0", "1", "2"]


def test_errors_are_raised_not_returned() -> None:
    class Failing(SyncStyle):
        async def get(self, ctx: GetContext[Meta]) -> str:  # type: ignore[override]
            raise ConnectionError("remote down")

    with pytest.raises(ConnectionError, match="remote down"):
        call_sync(Failing().get, GetContext(Meta("x")))


def test_delete_context_allows_missing_meta() -> None:
    ctx: DeleteContext[Meta] = DeleteContext(None, "Aborted")
    assert ctx.resource_meta is None and ctx.reason == "Aborted"
    assert DeleteContext(Meta("m")).reason == "Aborted"


def test_entry_loads_sync_and_async_plugins_with_or_without_setup() -> None:
    class Echo(SyncPlugin):
        def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
            del ctx
            return PhaseInfo.success()

    seen: list[str] = []

    def with_setup(setup: PluginSetupContext) -> AsyncStyle:
        seen.append(setup.plugin_id)
        return AsyncStyle()

    entry = PluginEntry(id="a", supported_task_types=["a"], plugin_loader=with_setup)
    assert entry.task_types == ("a",)
    assert isinstance(entry.load(PluginSetupContext(plugin_id="a")), AsyncStyle)
    assert seen == ["a"]
    assert isinstance(PluginEntry("e", ["e"], Echo).load(PluginSetupContext()), Echo)
