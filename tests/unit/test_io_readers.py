"""Input/output readers and writers: Flyte's ioutils test scenarios on real storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flyteidl.core import errors_pb2, execution_pb2, literals_pb2, tasks_pb2
from google.protobuf import timestamp_pb2

from plugins.core import ErrorAggregationStrategy, ErrorKind, ExecutionError, TaskReader
from plugins.errors import (
    FlyteCeleryError,
    InputReadError,
    MalformedProtobufError,
    RemoteFileExceedsMaxSizeError,
    RemoteFileNotFoundError,
    StorageError,
)
from plugins.io import (
    DataStore,
    InMemoryOutputReader,
    InputReader,
    OutputReader,
    OutputWriter,
    RemoteFileInputReader,
    RemoteFileOutputPaths,
    RemoteFileOutputReader,
    RemoteFileOutputWriter,
)
from plugins.io.paths import new_raw_output_paths
from plugins.io.readers import CachedInputReader
from plugins.io.writers import BufferedOutputWriter


def int_map(**values: int) -> literals_pb2.LiteralMap:
    lm = literals_pb2.LiteralMap()
    for key, value in values.items():
        lm.literals[key].scalar.primitive.integer = value
    return lm


def error_doc(
    code: str,
    message: str,
    *,
    kind: int = errors_pb2.ContainerError.NON_RECOVERABLE,
    origin: int = execution_pb2.ExecutionError.USER,
    seconds: int | None = None,
    worker: str = "",
) -> errors_pb2.ErrorDocument:
    err = errors_pb2.ContainerError(
        code=code, message=message, kind=kind, origin=origin, worker=worker
    )
    if seconds is not None:
        err.timestamp.CopyFrom(timestamp_pb2.Timestamp(seconds=seconds))
    return errors_pb2.ErrorDocument(error=err)


# -- inputs --------------------------------------------------------------------------------------


def test_input_reader_reads_inputs(store: DataStore, store_root: str) -> None:
    reader = RemoteFileInputReader(store, f"{store_root}/in")
    assert isinstance(reader, InputReader)
    assert reader.get_input_path() == f"{store_root}/in/inputs.pb"
    store.write_protobuf(reader.get_input_path(), int_map(a=1))
    assert reader.get() == int_map(a=1)


@pytest.mark.parametrize("content", [None, b"\x0a\xff\xff garbage"])
def test_input_read_failures_are_read_failed(
    store: DataStore, store_root: str, content: bytes | None
) -> None:
    reader = RemoteFileInputReader(store, f"{store_root}/in")
    if content is not None:
        store.write_raw(reader.get_input_path(), content)
    with pytest.raises(InputReadError) as info:
        reader.get()
    assert info.value.code == "READ_FAILED"
    assert reader.get_input_path() in str(info.value)


def test_cached_input_reader_reads_once(store: DataStore, store_root: str) -> None:
    inner = RemoteFileInputReader(store, f"{store_root}/in")
    store.write_protobuf(inner.get_input_path(), int_map(a=1))
    cached = CachedInputReader(inner)
    assert cached.get() == int_map(a=1)
    store.delete(inner.get_input_path())
    assert cached.get() == int_map(a=1)
    assert cached.get_input_prefix_path() == f"{store_root}/in"


# -- task template -------------------------------------------------------------------------------


def test_task_reader_reads_from_storage(store: DataStore, store_root: str) -> None:
    template = tasks_pb2.TaskTemplate(type="echo")
    store.write_protobuf(f"{store_root}/task.pb", template)
    reader = TaskReader(store, f"{store_root}/task.pb")
    assert reader.read() == template
    assert reader.path() == f"{store_root}/task.pb"


def test_task_reader_uploads_lazily_once(store: DataStore, store_root: str) -> None:
    path = f"{store_root}/lazy/task.pb"
    template = tasks_pb2.TaskTemplate(type="echo")
    reader = TaskReader(store, path, template)
    assert not store.exists(path)
    assert reader.path() == path
    assert store.read_protobuf(path, tasks_pb2.TaskTemplate) == template
    assert reader.read() == template


def test_task_reader_errors(store: DataStore, store_root: str) -> None:
    with pytest.raises(RemoteFileNotFoundError):
        TaskReader(store, f"{store_root}/none.pb").read()
    store.write_raw(f"{store_root}/bad.pb", b"\xff\xff")
    with pytest.raises(MalformedProtobufError, match="TaskTemplate"):
        TaskReader(store, f"{store_root}/bad.pb").read()
    failing = TaskReader(store, "nosuchproto://x/task.pb", tasks_pb2.TaskTemplate(type="t"))
    with pytest.raises(StorageError):
        failing.path()
    with pytest.raises(StorageError):  # not marked uploaded: the upload is retried
        failing.path()


# -- outputs and errors --------------------------------------------------------------------------


@pytest.fixture
def paths(store_root: str) -> RemoteFileOutputPaths:
    return RemoteFileOutputPaths(f"{store_root}/out", new_raw_output_paths(f"{store_root}/raw"))


def test_exists_on_a_too_big_file(store_root: str, paths: RemoteFileOutputPaths) -> None:
    store = DataStore()
    store.write_raw(paths.get_output_path(), b"12")
    reader = RemoteFileOutputReader(store, paths, max_payload_size=1)
    with pytest.raises(RemoteFileExceedsMaxSizeError):
        reader.exists()


def test_outputs_read(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    reader = RemoteFileOutputReader(store, paths)
    assert isinstance(reader, OutputReader)
    assert not reader.exists() and not reader.is_error() and not reader.deck_exists()
    store.write_protobuf(paths.get_output_path(), int_map(y=2))
    assert reader.is_file() and reader.exists()
    assert reader.read() == (int_map(y=2), None)


def test_empty_outputs_are_a_recoverable_error(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    store.write_protobuf(paths.get_output_path(), literals_pb2.LiteralMap())
    literals, err = RemoteFileOutputReader(store, paths).read()
    assert literals is None
    assert err is not None and err.code == "No outputs produced" and err.is_recoverable


def test_unreadable_outputs_raise(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    with pytest.raises(StorageError, match="failed to read data from dataDir"):
        RemoteFileOutputReader(store, paths).read()


def test_user_error_document(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    store.write_protobuf(paths.get_error_path(), error_doc("UserBoom", "bad input"))
    store.write_raw(paths.get_deck_path(), b"<html/>")
    reader = RemoteFileOutputReader(store, paths)
    assert reader.is_error() and reader.deck_exists()
    err = reader.read_error()
    assert (err.code, err.message, err.kind, err.is_recoverable) == (
        "UserBoom",
        "bad input",
        ErrorKind.USER,
        False,
    )


def test_system_recoverable_error_document(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    store.write_protobuf(
        paths.get_error_path(),
        error_doc(
            "Sys",
            "node lost",
            kind=errors_pb2.ContainerError.RECOVERABLE,
            origin=execution_pb2.ExecutionError.SYSTEM,
        ),
    )
    err = RemoteFileOutputReader(store, paths).read_error()
    assert err.kind is ErrorKind.SYSTEM and err.is_recoverable


def test_missing_and_malformed_error_documents(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    reader = RemoteFileOutputReader(store, paths)
    missing = reader.read_error()
    assert (missing.code, missing.kind, missing.is_recoverable) == (
        "ErrorFileNotFound",
        ErrorKind.SYSTEM,
        True,
    )
    store.write_protobuf(paths.get_error_path(), errors_pb2.ErrorDocument())
    nil = reader.read_error()
    assert (nil.code, nil.kind, nil.is_recoverable) == (
        "ErrorFileBadFormat",
        ErrorKind.SYSTEM,
        True,
    )
    store.write_raw(paths.get_error_path(), b"\xff\xff\xff")
    garbage = reader.read_error()
    assert garbage.code == "ErrorFileBadFormat" and paths.get_error_path() in garbage.message


def test_too_big_error_document(store_root: str, paths: RemoteFileOutputPaths) -> None:
    store = DataStore()
    store.write_protobuf(paths.get_error_path(), error_doc("C", "m" * 100))
    with pytest.raises(RemoteFileExceedsMaxSizeError):
        RemoteFileOutputReader(store, paths, max_payload_size=10).is_error()


def test_earliest_strategy_picks_the_earliest_error(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    out = paths.get_output_prefix_path()
    for i, seconds in enumerate((100, 99, 100)):
        store.write_protobuf(
            f"{out}/error-{i}.pb", error_doc("E", f"hi-{i}", seconds=seconds, worker=f"worker-{i}")
        )
    store.write_raw(f"{out}/error-notes.txt", b"ignored: wrong extension")
    reader = RemoteFileOutputReader(
        store, paths, error_aggregation_strategy=ErrorAggregationStrategy.EARLIEST
    )
    assert reader.is_error()
    err = reader.read_error()
    assert (err.worker, err.message) == ("worker-1", "hi-1")
    assert err.timestamp == datetime.fromtimestamp(99, tz=UTC)


def test_earliest_strategy_reads_a_lone_error_pb(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    store.write_protobuf(paths.get_error_path(), error_doc("E", "only"))
    reader = RemoteFileOutputReader(store, paths, error_aggregation_strategy="earliest")  # type: ignore[arg-type]
    assert reader.is_error()
    err = reader.read_error()
    assert err.message == "only" and err.worker == "" and err.timestamp is None


def test_earliest_strategy_without_errors(store: DataStore, paths: RemoteFileOutputPaths) -> None:
    reader = RemoteFileOutputReader(
        store, paths, error_aggregation_strategy=ErrorAggregationStrategy.EARLIEST
    )
    assert not reader.is_error()
    assert reader.read_error().code == "ErrorFileNotFound"


def test_in_memory_reader() -> None:
    reader = InMemoryOutputReader(int_map(a=1), deck_path="s3://deck")
    assert not reader.is_error() and not reader.is_file() and reader.exists()
    assert reader.read() == (int_map(a=1), None)
    assert reader.deck_path == "s3://deck" and reader.deck_exists()
    with pytest.raises(FlyteCeleryError, match="no execution error"):
        reader.read_error()
    empty = InMemoryOutputReader()
    assert not empty.exists() and not empty.deck_exists()


def test_writer_round_trips_errors_with_origin(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    writer = RemoteFileOutputWriter(store, paths)
    assert isinstance(writer, OutputWriter)
    err = ExecutionError(
        "Boom",
        "it broke",
        ErrorKind.SYSTEM,
        is_recoverable=True,
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        worker="w",
    )
    writer.put(InMemoryOutputReader(err=err))
    assert RemoteFileOutputReader(store, paths).read_error() == err


def test_writer_writes_outputs_and_refuses_nothing(
    store: DataStore, paths: RemoteFileOutputPaths
) -> None:
    writer = RemoteFileOutputWriter(store, paths)
    writer.put(InMemoryOutputReader(int_map(z=3)))
    assert store.read_protobuf(paths.get_output_path(), literals_pb2.LiteralMap) == int_map(z=3)
    with pytest.raises(FlyteCeleryError, match="no data found to write"):
        writer.put(InMemoryOutputReader())


def test_buffered_writer_records_the_last_reader(paths: RemoteFileOutputPaths) -> None:
    writer = BufferedOutputWriter(paths)
    assert writer.reader is None
    first, second = InMemoryOutputReader(int_map(a=1)), InMemoryOutputReader(int_map(a=2))
    writer.put(first)
    writer.put(second)
    assert writer.reader is second
    assert writer.get_checkpoint_prefix() == paths.get_checkpoint_prefix()
    assert writer.get_raw_output_prefix() == paths.get_raw_output_prefix()
