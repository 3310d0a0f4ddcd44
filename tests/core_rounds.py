"""The tests' one fake core plugin: rounds counted in plugin state, then inputs as outputs.

The engine tests pass a CoreCalls to see what was called; the integration tests run it in
real workers without one. (The fake web-API plugin is tests.remote_job's.)"""

from __future__ import annotations

from dataclasses import dataclass, field

from plugins.core import PhaseInfo, PluginProperties, Transition, do_transition
from plugins.core import TaskExecutionContext as CoreTaskExecutionContext
from plugins.io import InMemoryOutputReader


@dataclass
class CoreCalls:
    rounds: list[int] = field(default_factory=list)
    aborts: int = 0
    finalizes: int = 0
    rounds_to_finish: int = 3


class CountingCorePlugin:
    """A core plugin: counts rounds in its plugin state, asks for the next round at once."""

    def __init__(self, calls: CoreCalls | None = None, plugin_id: str = "counter") -> None:
        # Without a CoreCalls (in a worker process) the counts are simply not looked at.
        self.calls = calls or CoreCalls()
        self.plugin_id = plugin_id

    def get_id(self) -> str:
        return self.plugin_id

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
