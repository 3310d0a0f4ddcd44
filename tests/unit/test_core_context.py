"""The full core TaskExecutionContext, wired to real storage."""

from __future__ import annotations

import pytest
from flyteidl.core import tasks_pb2

from plugins.core import (
    PhaseInfo,
    PluginState,
    TaskExecutionContext,
    TaskExecutionID,
    TaskExecutionMetadata,
    TaskReader,
)
from plugins.io import DataStore, RemoteFileInputReader, RemoteFileOutputPaths
from plugins.io.paths import attempt_raw_output_prefix
from plugins.io.writers import BufferedOutputWriter


def test_context_defaults_share_one_plugin_state(store: DataStore, store_root: str) -> None:
    tid = TaskExecutionID.create(project="p", domain="d", name="e")
    store.write_protobuf(f"{store_root}/task.pb", tasks_pb2.TaskTemplate(type="echo"))
    refreshed: list[int] = []
    recorded: list[PhaseInfo] = []

    class Recorder:
        def record_raw(self, event: PhaseInfo) -> None:
            recorded.append(event)

    ctx = TaskExecutionContext(
        task_execution_metadata=TaskExecutionMetadata(task_execution_id=tid),
        task_reader=TaskReader(store, f"{store_root}/task.pb"),
        input_reader=RemoteFileInputReader(store, store_root),
        output_writer=BufferedOutputWriter(
            RemoteFileOutputPaths(
                f"{store_root}/out", attempt_raw_output_prefix(f"{store_root}/raw", tid)
            )
        ),
        data_store=store,
        task_refresh_indicator=lambda: refreshed.append(1),
        events_recorder=Recorder(),
    )
    assert ctx.plugin_state_writer is ctx.plugin_state_reader
    assert isinstance(ctx.plugin_state_reader, PluginState)
    assert ctx.task_reader.read().type == "echo"
    ctx.task_refresh_indicator()
    ctx.events_recorder.record_raw(PhaseInfo.running(1))
    assert refreshed == [1] and recorded[0].version == 1
    assert ctx.output_writer.get_checkpoint_prefix().endswith(
        f"{tid.generated_name}/_flytecheckpoints"
    )


def test_a_read_only_state_needs_a_writer(store: DataStore, store_root: str) -> None:
    class ReadOnly:
        def get_state_version(self) -> int:
            return 0

        def get(self, into: object = None) -> tuple[int, object]:
            return 0, None

    tid = TaskExecutionID.create(project="p", domain="d", name="e")
    with pytest.raises(TypeError, match="plugin_state_writer"):
        TaskExecutionContext(
            task_execution_metadata=TaskExecutionMetadata(task_execution_id=tid),
            task_reader=TaskReader(store, f"{store_root}/task.pb"),
            input_reader=RemoteFileInputReader(store, store_root),
            output_writer=BufferedOutputWriter(RemoteFileOutputPaths(store_root)),
            data_store=store,
            plugin_state_reader=ReadOnly(),
        )
