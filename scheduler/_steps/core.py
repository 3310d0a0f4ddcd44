"""The worker steps of core plugins: ``handle`` round by round, ``abort`` and ``finalize``.

A round's plugin state is persisted with the round's result and read back by the
next round. ``task_refresh_indicator`` asks for the next round at once rather
than after the resync interval.
"""

from __future__ import annotations

import logging

from plugins import core
from plugins.core import PluginState
from scheduler._model import Claim, ExecutionRecord, Step, describe, machine
from scheduler._runtime import AttemptContext, LoadedPlugin
from scheduler._steps.observe import Observation, apply_observation
from scheduler._steps.writeback import WriteBack
from scheduler.metrics import plugin_call

__all__ = ["CoreSteps"]

log = logging.getLogger(__name__)


class CoreSteps:
    """Handle, abort and finalize for core plugins.

    Args:
        wb: The shared claim checks and write-back.
    """

    def __init__(self, wb: WriteBack) -> None:
        self.wb = wb
        self.runtime = wb.runtime

    def context(
        self, record: ExecutionRecord, actx: AttemptContext, refresh: list[bool]
    ) -> core.TaskExecutionContext:
        """The core plugin context of the record's attempt; a refresh request appends to it."""
        return core.TaskExecutionContext(
            task_execution_metadata=actx.context.task_execution_metadata,
            task_reader=actx.context.task_reader,
            input_reader=actx.context.input_reader,
            output_writer=actx.writer,
            data_store=actx.context.data_store,
            secret_manager=actx.context.secret_manager,
            resource_manager=self.runtime.quotas,
            plugin_state_reader=PluginState(record.plugin_state_version, record.plugin_state),
            task_refresh_indicator=lambda: refresh.append(True),
        )

    def handle(self, execution_id: str, attempt: int) -> None:
        """Run one round of a core plugin: ``handle``, then persist its state or finish."""
        expected = Claim(Step.HANDLE, attempt)
        begun = self.wb.begin(execution_id, expected)
        if begun is None:
            return
        record, loaded = begun
        actx = self.runtime.contexts.attempt(record)
        refresh: list[bool] = []
        ctx = self.context(record, actx, refresh)
        caching = loaded.config.caching
        try:
            with plugin_call(loaded.id, "handle", record.id):
                transition = self.runtime.calls.local(loaded.as_core().handle, ctx)
            info = transition.info
        except Exception as exc:
            apply_observation(self.wb, loaded, record, Observation(error=describe(exc)), actx)
            return
        if info.phase.is_terminal():
            self.finalize(loaded, ctx)
            self.wb.complete(record, expected, info, actx)
            return
        state = ctx.plugin_state_reader
        assert isinstance(state, PluginState)
        version, value = state.next_round().get()
        now = self.runtime.clock()
        next_round = now if refresh else now + caching.resync_interval
        self.wb.update(
            execution_id,
            expected,
            lambda r: (machine.handled(r, now, info, next_round, (version, value)), []),
            record,
        )

    def abort(self, loaded: LoadedPlugin, ctx: core.TaskExecutionContext) -> None:
        """Call the plugin's ``abort`` (exceptions propagate: the caller retries)."""
        with plugin_call(loaded.id, "abort"):
            self.runtime.calls.local(loaded.as_core().abort, ctx)

    def finalize(self, loaded: LoadedPlugin, ctx: core.TaskExecutionContext) -> None:
        """Call the plugin's ``finalize``; a failure is logged, never fatal."""
        try:
            with plugin_call(loaded.id, "finalize"):
                self.runtime.calls.local(loaded.as_core().finalize, ctx)
        except Exception as exc:
            log.warning("plugin %s finalize failed: %s", loaded.id, describe(exc))
