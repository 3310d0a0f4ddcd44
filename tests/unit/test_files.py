"""File and Directory values on real fsspec storage (local disk and memory)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import literals_pb2, types_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugins.io import DataStore
from plugins.tasks.types import Directory, File, TransformContext, TypeEngine

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=12).filter(
    lambda n: n not in (".", "..")
)
CONTENT = st.binary(max_size=2048)
# Files are named f_*, folders d_*, so a name is never both a file and a folder.
TREES = st.dictionaries(
    st.tuples(
        st.lists(NAMES.map(lambda n: f"d_{n}"), max_size=2), NAMES.map(lambda n: f"f_{n}")
    ).map(lambda parts: "/".join([*parts[0], parts[1]])),
    CONTENT,
    max_size=5,
)
# The store_root fixture is one fresh root per test; every upload gets its own random
# folder under it, so sharing it between examples is sound.
SHARED_ROOT = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def ctx(store_root: str) -> TransformContext:
    """A context that uploads under a fresh root of a real backend."""
    return TransformContext(store=DataStore(), raw_output_prefix=f"{store_root}/raw")


def through_bytes(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    parsed = literals_pb2.Literal.FromString(literal.SerializeToString())
    assert parsed == literal
    return parsed


def write_tree(root: Path, tree: dict[str, bytes]) -> None:
    for relative, data in tree.items():
        path = root.joinpath(*relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_tree(root: str) -> dict[str, bytes]:
    found = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


@SHARED_ROOT
@given(name=NAMES, data=CONTENT)
def test_file_round_trip(ctx: TransformContext, name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, name)
        local.write_bytes(data)
        literal = through_bytes(TypeEngine.to_literal(ctx, File(local), File))
    # The local copy is gone: what comes back must come from the store.
    blob = literal.scalar.blob
    assert blob.uri.startswith(ctx.raw_output_prefix + "/")
    assert blob.uri.endswith("/" + name)
    assert blob.metadata.type == types_pb2.BlobType(
        format="", dimensionality=types_pb2.BlobType.SINGLE
    )
    assert literal.hash == hashlib.sha256(data).hexdigest()
    back = TypeEngine.to_python_value(ctx, literal, File)
    assert isinstance(back, File)
    assert back.remote_source == blob.uri
    assert back.path == blob.uri
    downloaded = back.download()
    assert not downloaded.startswith(ctx.raw_output_prefix)
    assert Path(downloaded).read_bytes() == data
    assert Path(downloaded).name == name
    with back.open() as handle:
        assert handle.read() == data


@SHARED_ROOT
@given(tree=TREES)
def test_directory_round_trip(ctx: TransformContext, tree: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp, "folder")
        root.mkdir()
        write_tree(root, tree)
        literal = through_bytes(TypeEngine.to_literal(ctx, Directory(root), Directory))
    blob = literal.scalar.blob
    assert blob.metadata.type.dimensionality == types_pb2.BlobType.MULTIPART
    assert blob.uri.endswith("/folder")
    back = TypeEngine.to_python_value(ctx, literal, Directory)
    assert isinstance(back, Directory)
    assert back.remote_source == blob.uri
    local = back.download()
    assert read_tree(local) == tree
    listing = back.listing()
    assert [f.path for f in listing] == [f"{blob.uri}/{rel}" for rel in sorted(tree)]
    for file, relative in zip(listing, sorted(tree), strict=True):
        with file.open() as handle:
            assert handle.read() == tree[relative]


@SHARED_ROOT
@given(contents=st.lists(CONTENT, max_size=3))
def test_files_inside_containers(ctx: TransformContext, contents: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for index, data in enumerate(contents):
            path = Path(tmp, f"{index}.bin")
            path.write_bytes(data)
            files.append(File(path))
        literal = through_bytes(TypeEngine.to_literal(ctx, files, list[File | None]))
    back = TypeEngine.to_python_value(ctx, literal, list[File | None])
    assert [Path(f).read_bytes() for f in back] == contents


def test_identical_content_has_equal_hash_and_different_uris(
    ctx: TransformContext, tmp_path: Path
) -> None:
    one, two, other = tmp_path / "one.txt", tmp_path / "two.txt", tmp_path / "other.txt"
    one.write_bytes(b"same")
    two.write_bytes(b"same")
    other.write_bytes(b"different")
    first = TypeEngine.to_literal(ctx, File(one), File)
    again = TypeEngine.to_literal(ctx, File(one), File)
    renamed = TypeEngine.to_literal(ctx, str(two), File)
    changed = TypeEngine.to_literal(ctx, other, File)
    assert first.hash == again.hash == renamed.hash == hashlib.sha256(b"same").hexdigest()
    assert len({first.scalar.blob.uri, again.scalar.blob.uri, renamed.scalar.blob.uri}) == 3
    assert changed.hash != first.hash


def test_directory_hash_covers_names_and_contents(ctx: TransformContext, tmp_path: Path) -> None:
    def tree_hash(name: str, tree: dict[str, bytes]) -> str:
        root = tmp_path / name
        root.mkdir()
        write_tree(root, tree)
        return TypeEngine.to_literal(ctx, Directory(root), Directory).hash

    base = tree_hash("a", {"x": b"1", "s/y": b"2"})
    assert base == tree_hash("b", {"s/y": b"2", "x": b"1"})
    assert base != tree_hash("c", {"x": b"1", "s/z": b"2"})
    assert base != tree_hash("d", {"x": b"1", "s/y": b"3"})


def test_remote_values_are_not_uploaded_again(ctx: TransformContext, tmp_path: Path) -> None:
    local = tmp_path / "data.txt"
    local.write_bytes(b"payload")
    literal = TypeEngine.to_literal(ctx, File(local), File)
    back = TypeEngine.to_python_value(ctx, literal, File)
    resent = TypeEngine.to_literal(ctx, back, File)
    assert resent == literal
    direct = TypeEngine.to_literal(ctx, File(literal.scalar.blob.uri), File)
    assert direct.scalar.blob.uri == literal.scalar.blob.uri
    assert direct.hash == ""


def test_download_happens_once(ctx: TransformContext, tmp_path: Path) -> None:
    local = tmp_path / "data.txt"
    local.write_bytes(b"v1")
    literal = TypeEngine.to_literal(ctx, File(local), File)
    back = TypeEngine.to_python_value(ctx, literal, File)
    first = back.download()
    assert os.fspath(back) == first
    assert back.download() == first
    with open(back, "rb") as handle:
        assert handle.read() == b"v1"


def test_local_file_is_used_in_place(tmp_path: Path) -> None:
    local = tmp_path / "data.txt"
    local.write_bytes(b"here")
    value = File(local)
    assert not value.is_remote
    assert value.download() == str(local)
    with value.open() as handle:
        assert handle.read() == b"here"
    assert value.remote_source is None


def test_missing_local_paths_are_named(ctx: TransformContext, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(f"File '{missing}' does not exist")):
        TypeEngine.to_literal(ctx, File(missing), File)
    with pytest.raises(FileNotFoundError, match=re.escape(f"Directory '{missing}' does not exist")):
        TypeEngine.to_literal(ctx, Directory(missing), Directory)
    with pytest.raises(
        FileNotFoundError, match="^" + re.escape(f"input 'f': File '{missing}' does not exist")
    ):
        TypeEngine.dict_to_literal_map(ctx, {"f": File(missing)}, {"f": File})


def test_wrong_kind_of_local_path(ctx: TransformContext, tmp_path: Path) -> None:
    afile = tmp_path / "a.txt"
    afile.write_bytes(b"")
    with pytest.raises(ValueError, match="is not a regular file"):
        TypeEngine.to_literal(ctx, File(tmp_path), File)
    with pytest.raises(ValueError, match="is not a folder"):
        TypeEngine.to_literal(ctx, Directory(afile), Directory)


def test_missing_remote_file_download(ctx: TransformContext) -> None:
    value = File(f"{ctx.raw_output_prefix}/never/written.txt", store=ctx.store)
    with pytest.raises(FileNotFoundError, match="no file at"):
        value.download()


def test_wrong_blob_dimensionality(ctx: TransformContext, tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    literal = TypeEngine.to_literal(ctx, Directory(tmp_path), Directory)
    with pytest.raises(
        TypeError, match="expected a File blob, got one of dimensionality MULTIPART"
    ):
        TypeEngine.to_python_value(ctx, literal, File)


def test_empty_directory_round_trips(ctx: TransformContext, tmp_path: Path) -> None:
    literal = TypeEngine.to_literal(ctx, Directory(tmp_path), Directory)
    back = TypeEngine.to_python_value(ctx, literal, Directory)
    assert os.listdir(back.download()) == []
    assert back.listing() == []


def test_local_directory_listing(tmp_path: Path) -> None:
    write_tree(tmp_path, {"b": b"", "a/c": b""})
    assert Directory(tmp_path).listing() == [File(tmp_path / "a" / "c"), File(tmp_path / "b")]


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (File("/x"), File("/x"), True),
        (File("/x"), File("/y"), False),
        (File("/x"), Directory("/x"), False),
        (File("memory://a/b"), File("memory://a/b"), True),
    ],
)
def test_equality(left: Any, right: Any, equal: bool) -> None:
    assert (left == right) is equal
    assert (left != right) is not equal
    if equal:
        assert hash(left) == hash(right)


def test_repr_and_empty_path() -> None:
    assert repr(File("/x")) == "File('/x')"
    assert repr(Directory("s3://b/d")) == "Directory('s3://b/d')"
    with pytest.raises(ValueError, match="non-empty path"):
        File("")
