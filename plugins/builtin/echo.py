"""``echo``: a sync plugin whose outputs are its inputs."""

from __future__ import annotations

from plugins.core import PhaseInfo
from plugins.io import InMemoryOutputReader
from plugins.webapi import PluginEntry, SyncPlugin, TaskExecutionContext

__all__ = ["ECHO", "EchoPlugin"]


class EchoPlugin(SyncPlugin):
    """Returns its inputs as its outputs, in one call."""

    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        """Copy ``inputs.pb`` to the outputs."""
        ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
        return PhaseInfo.success()


ECHO = PluginEntry(id="echo", supported_task_types=["echo"], plugin_loader=EchoPlugin)
