"""DataStore on real fsspec backends: protobuf files, head and size checks, listing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flyteidl.core import literals_pb2
from hypothesis import HealthCheck, given, settings

from plugins.errors import (
    MalformedProtobufError,
    RemoteFileExceedsMaxSizeError,
    RemoteFileNotFoundError,
    StorageError,
)
from plugins.io import DataStore, Metadata, join_reference
from tests.strategies import literal_maps


def test_join_reference() -> None:
    assert join_reference("s3://b/", "/a/", "b") == "s3://b/a/b"
    assert join_reference("memory://x", "") == "memory://x"
    with pytest.raises(ValueError, match="empty base"):
        join_reference("", "a")


def test_protobuf_round_trip_and_head(store: DataStore, store_root: str) -> None:
    ref = f"{store_root}/exec/inputs.pb"
    assert store.head(ref) == Metadata(exists=False)
    lm = literals_pb2.LiteralMap()
    lm.literals["x"].scalar.primitive.integer = 42
    store.write_protobuf(ref, lm)
    meta = store.head(ref)
    assert meta.exists and meta.size == len(lm.SerializeToString(deterministic=True))
    assert store.read_protobuf(ref, literals_pb2.LiteralMap) == lm
    assert store.head(f"{store_root}/exec") == Metadata(exists=False)  # a directory is no blob


def test_missing_file(store: DataStore, store_root: str) -> None:
    with pytest.raises(RemoteFileNotFoundError, match="no file at") as info:
        store.read_raw(f"{store_root}/nope.pb")
    assert isinstance(info.value, FileNotFoundError)


def test_size_limit_is_checked_before_reading(store: DataStore, store_root: str) -> None:
    ref = f"{store_root}/big.bin"
    store.write_raw(ref, b"x" * 100)
    assert store.read_raw(ref, max_size=100) == b"x" * 100
    with pytest.raises(
        RemoteFileExceedsMaxSizeError, match=r"too large \[100\] bytes, max allowed \[99\]"
    ):
        store.read_raw(ref, max_size=99)


def test_malformed_protobuf_names_file_and_type(store: DataStore, store_root: str) -> None:
    ref = f"{store_root}/garbage.pb"
    store.write_raw(ref, b"\xff\xff\xff not a proto")
    with pytest.raises(MalformedProtobufError) as info:
        store.read_protobuf(ref, literals_pb2.LiteralMap)
    assert ref in str(info.value) and "flyteidl.core.LiteralMap" in str(info.value)


def test_list_by_prefix(store: DataStore, store_root: str) -> None:
    for name in ("error.pb", "error-1.pb", "error-0.pb", "outputs.pb"):
        store.write_raw(f"{store_root}/out/{name}", b"1")
    assert store.list(f"{store_root}/out/error") == [
        f"{store_root}/out/error-0.pb",
        f"{store_root}/out/error-1.pb",
        f"{store_root}/out/error.pb",
    ]
    assert store.list(f"{store_root}/missing-dir/error") == []


def test_delete_is_idempotent(store: DataStore, store_root: str) -> None:
    ref = f"{store_root}/d.bin"
    store.write_raw(ref, b"1")
    store.delete(ref)
    store.delete(ref)
    assert not store.exists(ref)


def test_local_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = DataStore()
    ref = f"file://{tmp_path}/a/b/c.bin"
    store.write_raw(ref, b"first")
    store.write_raw(ref, b"second")
    assert store.read_raw(ref) == b"second"
    assert os.listdir(tmp_path / "a" / "b") == ["c.bin"]


def test_bad_references() -> None:
    store = DataStore()
    with pytest.raises(StorageError, match="empty"):
        store.head("")
    with pytest.raises(StorageError, match="unsupported storage reference"):
        store.head("nosuchproto://x/y")
    with pytest.raises(ValueError, match="positive"):
        DataStore(max_download_bytes=0)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(literal_maps)
def test_literal_maps_round_trip_through_storage(
    store_root: str, lm: literals_pb2.LiteralMap
) -> None:
    store = DataStore()
    ref = f"{store_root}/rt/outputs.pb"
    store.write_protobuf(ref, lm)
    assert store.read_protobuf(ref, literals_pb2.LiteralMap) == lm


def test_local_writes_are_private_and_skip_a_leftover_temporary_name(tmp_path: Path) -> None:
    import stat
    import threading

    from plugins.io import datastore as module

    store = DataStore()
    target = tmp_path / "new-dir" / "blob.pb"
    # What a killed writer with this pid and counter value would have left behind.
    upcoming = next(module._TEMPORARY) + 1
    leftover = target.parent / f".tmp-{os.getpid()}-{threading.get_ident()}-{upcoming}.part"
    target.parent.mkdir()
    leftover.write_bytes(b"half")
    store.write_raw(f"file://{target}", b"whole")
    assert target.read_bytes() == b"whole"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert leftover.read_bytes() == b"half"  # not ours to touch
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".part")] == [leftover.name]


def test_write_many_writes_every_blob(store: DataStore, store_root: str) -> None:
    blobs = [(f"{store_root}/many/{n}/inputs.pb", str(n).encode()) for n in range(50)]
    store.write_many(blobs)
    assert [store.read_raw(ref) for ref, _ in blobs] == [data for _, data in blobs]
    store.write_many([])  # nothing to do
    with pytest.raises(ValueError, match="at least 1"):
        store.write_many(blobs, concurrency=0)


def test_write_many_names_the_first_failed_file_and_writes_the_others(tmp_path: Path) -> None:
    store = DataStore()
    # Regular files where the directories of two blobs must go: their writes fail.
    for name in ("blocked", "also-blocked"):
        (tmp_path / name).write_text("not a directory")
    names = ["a", "blocked", "b", "also-blocked", "c"]
    blobs = [(f"file://{tmp_path}/{name}/inputs.pb", name.encode()) for name in names]
    with pytest.raises(StorageError) as info:
        store.write_many(blobs)
    assert str(info.value).startswith(f"cannot write file://{tmp_path}/blocked/inputs.pb: ")
    assert str(info.value).endswith("(1 other write(s) failed too)")
    assert [(tmp_path / name / "inputs.pb").read_bytes() for name in "abc"] == [b"a", b"b", b"c"]


def test_write_many_to_an_object_store_keeps_writes_in_flight_together() -> None:
    from tests.object_store import SlowMemoryFileSystem

    store = DataStore()
    SlowMemoryFileSystem.most_in_flight = 0
    blobs = [(f"slowmem://bucket/run/{n}/inputs.pb", str(n).encode()) for n in range(100)]
    store.write_many(blobs, concurrency=40)
    assert [store.read_raw(ref) for ref, _ in blobs] == [data for _, data in blobs]
    # Many writes waited on the (simulated) network at once, never more than allowed.
    assert 1 < SlowMemoryFileSystem.most_in_flight <= 40


def test_write_many_to_an_object_store_names_the_refused_file() -> None:
    from tests.object_store import SlowMemoryFileSystem

    store = DataStore()
    refused = "slowmem://bucket/refused/inputs.pb"
    blobs = [
        ("slowmem://bucket/ok/1.pb", b"1"),
        (refused, b"2"),
        ("slowmem://bucket/ok/3.pb", b"3"),
    ]
    with pytest.raises(StorageError, match=f"^cannot write {refused}: access denied") as info:
        store.write_many(blobs)
    assert isinstance(info.value.__cause__, PermissionError)
    assert SlowMemoryFileSystem.blobs["bucket/ok/3.pb"] == b"3"  # the rest were written
