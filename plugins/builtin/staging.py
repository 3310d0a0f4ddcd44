"""Moving a task process's files in and out: the worker stages them, the task never sees storage.

A task run in its own process has no storage credentials. Before it starts, the
worker downloads every File and Directory of its inputs that lives in remote
storage into the task's folder and rewrites the input literals to point there
(local files are left as they are: the task can read them itself). Afterwards the
worker uploads what the task wrote under its local raw-output folder to the real
raw-output prefix and rewrites the output literals, so outputs look exactly as
they would had the task run in the worker. This is Flyte's copilot model:
download inputs, run, upload outputs.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from flyteidl.core import literals_pb2, types_pb2
from fsspec.utils import get_protocol

from plugins.errors import OutputConversionError, StorageError
from plugins.io import DataStore, join_reference

__all__ = ["Staging", "as_paths", "map_uris"]

Rewrite = Callable[[str, bool], str]
"""``(uri, is_folder) -> uri``."""

_MULTIPART = types_pb2.BlobType.BlobDimensionality.MULTIPART


def _rewrite_literal(literal: literals_pb2.Literal, rewrite: Rewrite) -> None:
    kind = literal.WhichOneof("value")
    if kind == "collection":
        for item in literal.collection.literals:
            _rewrite_literal(item, rewrite)
    elif kind == "map":
        for item in literal.map.literals.values():
            _rewrite_literal(item, rewrite)
    elif kind == "scalar":
        scalar = literal.scalar
        which = scalar.WhichOneof("value")
        if which == "blob" and scalar.blob.uri:
            folder = scalar.blob.metadata.type.dimensionality == _MULTIPART
            scalar.blob.uri = rewrite(scalar.blob.uri, folder)
        elif which == "structured_dataset" and scalar.structured_dataset.uri:
            # A structured dataset is a folder of files (e.g. parquet parts).
            scalar.structured_dataset.uri = rewrite(scalar.structured_dataset.uri, True)
        elif which == "union":
            _rewrite_literal(scalar.union.value, rewrite)


def map_uris(literals: literals_pb2.LiteralMap, rewrite: Rewrite) -> literals_pb2.LiteralMap:
    """A copy of ``literals`` with every blob and dataset URI passed through ``rewrite``."""
    copy = literals_pb2.LiteralMap()
    copy.CopyFrom(literals)
    for literal in copy.literals.values():
        _rewrite_literal(literal, rewrite)
    return copy


def as_paths(literals: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
    """A copy of ``literals`` whose ``file://`` URIs are plain paths, as flytekit takes them.

    flytekit 1.16 reads a URI without a remote protocol as a local path and checks it with
    ``os.path.isfile``, which ``file:///x`` fails; ``/x`` is the same file to us.
    """
    return map_uris(literals, lambda uri, _folder: _local_path(uri) if _is_local(uri) else uri)


def _is_local(uri: str) -> bool:
    return get_protocol(uri) in ("file", "local")


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://") if uri.startswith("file://") else uri


class Staging:
    """The files of one task run: downloads its inputs, uploads its outputs.

    Args:
        store: The worker's store (with its credentials).
        folder: The task's private folder.
        raw_output_prefix: Where the task's outputs belong in storage.
    """

    def __init__(self, store: DataStore, folder: Path, raw_output_prefix: str) -> None:
        self._store = store
        self._inputs = folder / "inputs"
        self.local_raw = folder / "raw"
        self._raw_prefix = raw_output_prefix
        self._originals: dict[str, str] = {}

    def inputs(self, literals: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
        """``literals`` with every remote file downloaded and pointed to locally.

        Raises:
            StorageError: A download failed.
        """
        return map_uris(literals, self.download)

    def outputs(self, literals: literals_pb2.LiteralMap) -> literals_pb2.LiteralMap:
        """``literals`` with everything under the local raw folder uploaded to storage.

        Raises:
            StorageError: An upload failed.
            OutputConversionError: An output is a symbolic link, or holds one, or is a
                special file (the task's doing: retrying cannot help).
        """
        return map_uris(literals, self._upload)

    def download(self, uri: str, folder: bool = False) -> str:
        """A local ``file://`` copy of ``uri`` in the task's folder (``uri`` itself if local).

        Raises:
            StorageError: The download failed.
        """
        if _is_local(uri):
            return uri
        target = self._inputs / str(len(self._originals)) / (uri.rstrip("/").rsplit("/", 1)[-1])
        target.parent.mkdir(parents=True, exist_ok=True)
        fs, remote = self._store.filesystem(uri)
        try:
            if folder:
                fs.get(remote.rstrip("/") + "/", str(target) + "/", recursive=True)
                target.mkdir(exist_ok=True)  # an empty folder has nothing to download
            else:
                fs.get(remote, str(target))
        except (OSError, ValueError) as exc:
            raise StorageError(f"could not download {uri} for the task: {exc}") from exc
        local = f"file://{target}"
        self._originals[local] = uri
        return local

    def _refuse_links(self, path: Path, relative: Path) -> None:
        """Refuse an output that is not plain files and folders the task wrote in its folder.

        The worker uploads with its own rights: a symbolic link (to a file the task may not
        read) would be followed, and a pipe would block the upload forever.

        Raises:
            OutputConversionError: ``path`` is, holds or lies under anything else.
        """
        inside = os.path.realpath(self.local_raw) / relative
        if Path(os.path.realpath(path)) != inside:
            raise OutputConversionError(
                f"task output raw/{relative} goes through a symbolic link; outputs must be "
                "files and folders the task wrote in its raw folder"
            )
        entries = [path]
        if path.is_dir():
            for top, folders, files in os.walk(path):  # never into a linked folder
                entries += [Path(top, name) for name in folders + files]
        for entry in entries:
            try:
                mode = entry.lstat().st_mode
            except OSError:
                continue  # missing: the upload says so
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                shown = entry.relative_to(self.local_raw)
                raise OutputConversionError(
                    f"task output raw/{shown} is {what}; outputs must be files and folders "
                    "the task wrote in its raw folder"
                )

    def _upload(self, uri: str, folder: bool) -> str:
        original = self._originals.get(uri) or self._originals.get(f"file://{uri}")
        if original is not None:
            return original  # an input passed through as an output
        if not _is_local(uri):
            return uri
        path = Path(os.path.abspath(_local_path(uri)))
        try:
            relative = path.relative_to(self.local_raw)
        except ValueError:
            return uri  # not the task's output (e.g. a shared local path): kept as it is
        self._refuse_links(path, relative)
        target = join_reference(self._raw_prefix, *relative.parts)
        fs, remote = self._store.filesystem(target)
        try:
            if folder:
                fs.put(str(path) + "/", remote.rstrip("/") + "/", recursive=True)
            else:
                fs.makedirs(fs._parent(remote), exist_ok=True)
                fs.put(str(path), remote)
        except (OSError, ValueError) as exc:
            raise StorageError(f"could not upload task output {relative}: {exc}") from exc
        return target
