"""The full task execution context handed to core plugins (Go's ``core.TaskExecutionContext``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from plugins.core.metadata import TaskExecutionMetadata, TaskReader
from plugins.core.phase_info import PhaseInfo
from plugins.core.resources import ResourceManager
from plugins.core.secrets import EnvSecretManager, SecretManager
from plugins.core.state import PluginState, PluginStateReader, PluginStateWriter

if TYPE_CHECKING:
    from plugins.io.datastore import DataStore
    from plugins.io.interfaces import InputReader, OutputWriter

__all__ = ["EventsRecorder", "SignalAsync", "TaskExecutionContext"]

SignalAsync = Callable[[], None]
"""Asks the engine to look at the execution again now (Go's ``TaskRefreshIndicator``)."""


@runtime_checkable
class EventsRecorder(Protocol):
    """Records a phase event outside the normal transition flow."""

    def record_raw(self, event: PhaseInfo) -> None:
        """Record ``event`` for the current attempt."""
        ...


def _no_refresh() -> None:
    """Default refresh indicator: nothing to wake."""


class _DiscardingRecorder:
    def record_raw(self, event: PhaseInfo) -> None:
        del event


@dataclass(frozen=True)
class TaskExecutionContext:
    """Everything a core plugin may use while handling one attempt.

    Flyte's ``core.TaskExecutionContext``. A web-API plugin gets the narrower
    :class:`plugins.webapi.TaskExecutionContext` (Flyte's ``webapi`` one).

    Attributes:
        task_execution_metadata: Identity, labels, overrides and limits of the attempt.
        task_reader: Reads the ``TaskTemplate``.
        input_reader: Reads ``inputs.pb``.
        output_writer: Where outputs, errors and decks go.
        data_store: The blob store behind both.
        secret_manager: Secrets the plugin may read.
        resource_manager: The quota manager, when the engine has one.
        plugin_state_reader: The state persisted by the previous round.
        plugin_state_writer: The state for the next round.
        task_refresh_indicator: Wakes the engine for this execution now.
        events_recorder: Records extra phase events.
        max_dataset_size_bytes: The largest blob the plugin should read; 0 means the
            store's default.
    """

    task_execution_metadata: TaskExecutionMetadata
    task_reader: TaskReader
    input_reader: InputReader
    output_writer: OutputWriter
    data_store: DataStore
    secret_manager: SecretManager = field(default_factory=EnvSecretManager)
    resource_manager: ResourceManager | None = None
    plugin_state_reader: PluginStateReader = field(default_factory=PluginState)
    # None is replaced in __post_init__; the cast keeps the attribute's type non-optional.
    plugin_state_writer: PluginStateWriter = cast(PluginStateWriter, None)  # noqa: RUF009
    task_refresh_indicator: SignalAsync = _no_refresh
    events_recorder: EventsRecorder = field(default_factory=_DiscardingRecorder)
    max_dataset_size_bytes: int = 0

    def __post_init__(self) -> None:
        # One PluginState usually plays both roles; default the writer to the reader.
        if cast(object, self.plugin_state_writer) is None:
            reader: object = self.plugin_state_reader
            if not isinstance(reader, PluginStateWriter):
                raise TypeError("plugin_state_writer is required when the reader cannot write")
            object.__setattr__(self, "plugin_state_writer", reader)
