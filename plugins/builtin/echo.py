"""``echo``: a sync plugin whose outputs are its inputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from plugins.core import PhaseInfo
from plugins.io import InMemoryOutputReader
from plugins.tasks.base import PythonTask
from plugins.tasks.interface import Interface
from plugins.webapi import PluginEntry, SyncPlugin, TaskExecutionContext

__all__ = ["ECHO", "EchoPlugin", "EchoTask"]


class EchoPlugin(SyncPlugin):
    """Returns its inputs as its outputs, in one call."""

    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        """Copy ``inputs.pb`` to the outputs."""
        ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
        return PhaseInfo.success()


ECHO = PluginEntry(id="echo", supported_task_types=["echo"], plugin_loader=EchoPlugin)


class EchoTask(PythonTask[None]):
    """A task of type ``echo``: its outputs are its inputs, with the same names and types.

    Args:
        name: The task's name.
        inputs: Input name → Python type; the outputs are the same.
        **kwargs: Passed to :class:`~plugins.tasks.PythonTask` (``metadata``...).

    Example:
        >>> greet = EchoTask("greet", inputs={"text": str})
        >>> greet(text="hi")
        'hi'
    """

    def __init__(self, name: str, inputs: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(
            task_type="echo",
            name=name,
            interface=Interface(inputs=dict(inputs), outputs=dict(inputs)),
            **kwargs,
        )

    def execute(self, **kwargs: Any) -> Any:
        """Locally, what the plugin does remotely: return the inputs."""
        return self.python_interface.pack_outputs(kwargs)
