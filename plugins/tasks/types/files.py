"""``File`` and ``Directory`` (flytekit's FlyteFile and FlyteDirectory) as Blob literals.

A value holds a path that is either local or a URL of any fsspec protocol. Converting
a local value to a literal uploads it under the context's raw output prefix, in a fresh
random folder, and records a sha256 of the content as ``Literal.hash``: upload URLs
always differ, so without the hash a cache keyed on inputs could never hit. Values
read from literals download lazily, once, into a process-wide temporary folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from typing import IO, Any

from flyteidl.core import literals_pb2, types_pb2

from plugins.errors import StorageError
from plugins.io import DataStore, join_reference
from plugins.tasks.types.engine import (
    TransformContext,
    TypeTransformer,
    literal_kind,
    mismatch,
    process_temp_dir,
)

__all__ = ["Directory", "DirectoryTransformer", "File", "FileTransformer"]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_CHUNK = 1 << 20


def _filesystem(store: DataStore, url: str) -> tuple[Any, str]:
    # Through the store, so its storage options (credentials, endpoints) apply.
    return store.filesystem(url)


def _fresh_local_dir() -> str:
    return tempfile.mkdtemp(dir=process_temp_dir(), prefix="download-")


def _basename(path: str) -> str:
    return path.rstrip("/").rpartition("/")[2] or "data"


class _Blob(os.PathLike[str]):
    """What File and Directory share: a local or remote path, downloaded on demand."""

    def __init__(self, path: str | os.PathLike[str], *, store: DataStore | None = None) -> None:
        self._path = os.fspath(path)
        if not self._path:
            raise ValueError(f"{type(self).__name__} needs a non-empty path")
        self._store = store
        self._remote_source: str | None = None
        self._hash = ""
        self._local: str | None = None

    @classmethod
    def _from_literal(cls, uri: str, store: DataStore, content_hash: str) -> Any:
        value = cls(uri, store=store)
        value._remote_source = uri
        value._hash = content_hash
        return value

    @property
    def path(self) -> str:
        """The path or URL the value was created with (the URI, for a value from a literal)."""
        return self._path

    @property
    def remote_source(self) -> str | None:
        """The URI of the literal this value was read from, else ``None``."""
        return self._remote_source

    @property
    def is_remote(self) -> bool:
        """Whether :attr:`path` is a URL (``file://`` included) rather than a local path."""
        return bool(_URL.match(self._path))

    @property
    def store(self) -> DataStore:
        """The store that reads a remote path (a default one when none was given)."""
        if self._store is None:
            self._store = DataStore()
        return self._store

    def download(self) -> str:
        """A local path to the content; a remote one is downloaded the first time.

        Raises:
            FileNotFoundError: The remote content does not exist.
            StorageError: Downloading failed.
        """
        if not self.is_remote:
            return self._path
        if self._local is None or not os.path.exists(self._local):
            target = os.path.join(_fresh_local_dir(), _basename(self._path))
            fs, remote = _filesystem(self.store, self._path)
            try:
                self._fetch(fs, remote, target)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f"no {type(self).__name__.lower()} at {self._path}"
                ) from None
            except OSError as exc:
                raise StorageError(f"cannot download {self._path}: {exc}") from exc
            self._local = target
        return self._local

    def _fetch(self, fs: Any, remote: str, target: str) -> None:
        raise NotImplementedError

    def __fspath__(self) -> str:
        return self.download()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Blob)
        return self._path == other._path

    def __hash__(self) -> int:
        return hash((type(self), self._path))

    def __repr__(self) -> str:
        source = f", remote_source={self._remote_source!r}" if self._remote_source else ""
        return f"{type(self).__name__}({self._path!r}{source})"


class File(_Blob):
    """A single file, local or remote (flytekit's ``FlyteFile``).

    Args:
        path: A local path, or a URL of any fsspec protocol (``s3://``, ``file://``...).
        store: The store that reads a remote path; values read from literals are bound
            to the context's store.
    """

    def _fetch(self, fs: Any, remote: str, target: str) -> None:
        fs.get_file(remote, target)

    def open(self, mode: str = "rb") -> IO[Any]:
        """Open the file (a remote one directly through fsspec, without downloading)."""
        if not self.is_remote:
            return open(self._path, mode)
        fs, remote = _filesystem(self.store, self._path)
        handle: IO[Any] = fs.open(remote, mode)
        return handle


class Directory(_Blob):
    """A folder of files, local or remote (flytekit's ``FlyteDirectory``).

    Object stores have no empty folders, so empty sub-folders do not survive an upload.

    Args:
        path: A local path, or a URL of any fsspec protocol.
        store: The store that reads a remote path.
    """

    def _fetch(self, fs: Any, remote: str, target: str) -> None:
        os.makedirs(target, exist_ok=True)
        for relative, source in _remote_files(fs, remote):
            local = os.path.join(target, *relative.split("/"))
            os.makedirs(os.path.dirname(local), exist_ok=True)
            fs.get_file(source, local)

    def listing(self) -> list[File]:
        """The files in the folder and its sub-folders, sorted by relative path.

        Files of a remote folder stay remote (they are not downloaded).
        """
        if not self.is_remote:
            return [
                File(os.path.join(self._path, *rel.split("/"))) for rel in _local_files(self._path)
            ]
        fs, remote = _filesystem(self.store, self._path)
        return [
            File(join_reference(self._path, relative), store=self.store)
            for relative, _ in _remote_files(fs, remote)
        ]


def _local_files(root: str) -> list[str]:
    """Relative ``/``-separated paths of the files under ``root``, sorted."""
    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        for name in names:
            relative = os.path.relpath(os.path.join(directory, name), root)
            found.append(relative.replace(os.sep, "/"))
    return sorted(found)


def _remote_files(fs: Any, remote: str) -> list[tuple[str, str]]:
    """(relative path, fs path) of every file under ``remote``, sorted."""
    base = remote.rstrip("/") + "/"
    found = []
    for path in fs.find(remote):
        name = str(path)
        if not name.startswith(base):
            continue
        relative = name[len(base) :]
        # Never write outside the download folder, whatever the store lists.
        if any(part in ("", ".", "..") for part in relative.split("/")):
            raise StorageError(f"refusing to download {name!r}: unsafe relative path")
        found.append((relative, name))
    return sorted(found)


def _upload_file(fs: Any, local: str, remote: str) -> str:
    """Copy a local file to ``remote`` and return the sha256 of its content."""
    if "file" in ((fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)):
        # Only local disks need parent folders; object stores have none.
        os.makedirs(os.path.dirname(remote), exist_ok=True)
    digest = hashlib.sha256()
    with open(local, "rb") as source, fs.open(remote, "wb") as target:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            target.write(chunk)
    return digest.hexdigest()


class _BlobTransformer(TypeTransformer[_Blob]):
    """Shared by File and Directory: a Blob literal with an empty format."""

    _dimensionality: types_pb2.BlobType.BlobDimensionality

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(blob=BlobType(format="", dimensionality=...))``."""
        return types_pb2.LiteralType(
            blob=types_pb2.BlobType(format="", dimensionality=self._dimensionality)
        )

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """Upload a local value (hashing it); a remote one is referenced as it is.

        A str or path-like value is taken as the path of a new value.

        Raises:
            TypeError: The value is not of this kind.
            FileNotFoundError: A local path does not exist.
            ValueError: A local path is of the wrong kind (a folder for File).
            StorageError: Uploading failed.
        """
        kind: type[_Blob] = self.python_type
        if isinstance(value, _Blob) and not isinstance(value, kind):
            raise mismatch(kind, value)
        if not isinstance(value, _Blob):
            if not isinstance(value, str | os.PathLike):
                raise mismatch(kind, value)
            value = kind(value)
        if value.is_remote:
            uri, digest = value.path, value._hash
        else:
            uri, digest = self._upload(ctx, os.path.abspath(value.path))
        blob = literals_pb2.Blob(
            metadata=literals_pb2.BlobMetadata(type=literal_type.blob), uri=uri
        )
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob), hash=digest)

    def _upload(self, ctx: TransformContext, local: str) -> tuple[str, str]:
        raise NotImplementedError

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> _Blob:
        """A value bound to the context's store, downloaded when first used."""
        if literal.scalar.WhichOneof("value") != "blob":
            raise TypeError(f"expected a blob literal, got {literal_kind(literal)}")
        blob = literal.scalar.blob
        if blob.metadata.type.dimensionality != self._dimensionality:
            raise TypeError(
                f"expected a {self.name} blob, got one of dimensionality "
                f"{types_pb2.BlobType.BlobDimensionality.Name(blob.metadata.type.dimensionality)}"
            )
        value: _Blob = self.python_type._from_literal(blob.uri, ctx.store, literal.hash)
        return value

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """This class, for a blob type of its dimensionality."""
        if (
            literal_type.WhichOneof("type") == "blob"
            and literal_type.blob.dimensionality == self._dimensionality
        ):
            return self.python_type
        return super().guess_python_type(literal_type)


def _upload_target(ctx: TransformContext, local: str) -> tuple[Any, str, str]:
    url = join_reference(ctx.raw_output_prefix, uuid.uuid4().hex, _basename(local))
    fs, remote = _filesystem(ctx.store, url)
    return fs, remote, url


class FileTransformer(_BlobTransformer):
    """:class:`File`: a SINGLE blob."""

    _dimensionality = types_pb2.BlobType.SINGLE

    def __init__(self) -> None:
        super().__init__("File", File)

    def _upload(self, ctx: TransformContext, local: str) -> tuple[str, str]:
        if not os.path.exists(local):
            raise FileNotFoundError(f"File {local!r} does not exist")
        if not os.path.isfile(local):
            raise ValueError(f"File {local!r} is not a regular file (use Directory for folders)")
        fs, remote, url = _upload_target(ctx, local)
        try:
            return url, _upload_file(fs, local, remote)
        except OSError as exc:
            raise StorageError(f"cannot upload {local!r} to {url}: {exc}") from exc


class DirectoryTransformer(_BlobTransformer):
    """:class:`Directory`: a MULTIPART blob; the hash covers names and contents."""

    _dimensionality = types_pb2.BlobType.MULTIPART

    def __init__(self) -> None:
        super().__init__("Directory", Directory)

    def _upload(self, ctx: TransformContext, local: str) -> tuple[str, str]:
        if not os.path.exists(local):
            raise FileNotFoundError(f"Directory {local!r} does not exist")
        if not os.path.isdir(local):
            raise ValueError(f"Directory {local!r} is not a folder (use File for files)")
        fs, remote, url = _upload_target(ctx, local)
        pairs = []
        try:
            for relative in _local_files(local):
                source = os.path.join(local, *relative.split("/"))
                pairs.append((relative, _upload_file(fs, source, f"{remote}/{relative}")))
        except OSError as exc:
            raise StorageError(f"cannot upload {local!r} to {url}: {exc}") from exc
        digest = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()
        return url, digest
