"""Blob storage over fsspec (Go's ``storage.DataStore``): raw bytes and protobuf files.

Every read checks the blob's size first, so a huge file is refused before it is
downloaded. Local writes go to a temporary file that is renamed into place, so
readers never see half a file; object stores give that guarantee themselves.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import DecodeError, Message

from plugins.errors import (
    MalformedProtobufError,
    RemoteFileExceedsMaxSizeError,
    RemoteFileNotFoundError,
    StorageError,
)
from plugins.idl import parse_message
from plugins.io.interfaces import DataReference

__all__ = ["DEFAULT_MAX_DOWNLOAD_BYTES", "DataReference", "DataStore", "Metadata", "join_reference"]

M = TypeVar("M", bound=Message)

WRITE_CONCURRENCY = 64
"""Writes :meth:`DataStore.write_many` keeps in flight to an object store: each waits on
the network, not on this process, so at 20 ms a write 64 make about 3,000 writes/s."""

DEFAULT_MAX_DOWNLOAD_BYTES = 10 * 1024 * 1024
"""The largest blob read by default. Flyte's ``maxDownloadMBs`` default is 2; literal maps
that inline lists of records outgrow that quickly, so ours is larger (configurable)."""


def join_reference(base: DataReference, *keys: str) -> DataReference:
    """Join path segments onto ``base`` with exactly one ``/`` between them.

    Raises:
        ValueError: ``base`` is empty.
    """
    if not base:
        raise ValueError("cannot construct a reference on an empty base")
    result = base.rstrip("/") if base.rstrip("/") else base
    for key in keys:
        segment = key.strip("/")
        if segment:
            result = f"{result}/{segment}"
    return result


@dataclass(frozen=True)
class Metadata:
    """What :meth:`DataStore.head` knows of a blob."""

    exists: bool
    size: int = 0


class DataStore:
    """Reads and writes blobs at fsspec URLs.

    Args:
        storage_options: Passed to fsspec for every URL (credentials, endpoints).
        max_download_bytes: The default size limit of reads.
    """

    def __init__(
        self,
        *,
        storage_options: Mapping[str, Any] | None = None,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        if max_download_bytes <= 0:
            raise ValueError(f"max_download_bytes must be positive, got {max_download_bytes}")
        self._options = dict(storage_options or {})
        self.max_download_bytes = max_download_bytes

    def _fs(self, ref: DataReference) -> tuple[Any, str]:
        if not ref:
            raise StorageError("empty storage reference")
        if ref.startswith("file:///") and not self._options and "::" not in ref:
            # The common local case without fsspec's URL parsing (a tenth of a write).
            return _local_filesystem(), ref[len("file://") :]
        from fsspec.core import url_to_fs  # noqa: PLC0415 - see _local_filesystem

        try:
            fs, path = url_to_fs(ref, **self._options)
        except (ValueError, ImportError) as exc:
            raise StorageError(f"unsupported storage reference {ref!r}: {exc}") from exc
        return fs, str(path)

    def filesystem(self, ref: DataReference) -> tuple[Any, str]:
        """The fsspec filesystem (with this store's options) and path of ``ref``, for streaming.

        Raises:
            StorageError: ``ref`` is empty or its protocol is not available.
        """
        return self._fs(ref)

    @staticmethod
    def construct_reference(base: DataReference, *keys: str) -> DataReference:
        """``base/key1/key2...`` (Go's ``ConstructReference``)."""
        return join_reference(base, *keys)

    def head(self, ref: DataReference) -> Metadata:
        """Whether ``ref`` is an existing blob, and its size. Directories do not count.

        Raises:
            StorageError: The store could not be asked.
        """
        fs, path = self._fs(ref)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            return Metadata(exists=False)
        except OSError as exc:
            raise StorageError(f"cannot stat {ref}: {exc}") from exc
        if info.get("type") == "directory":
            return Metadata(exists=False)
        return Metadata(exists=True, size=int(info.get("size") or 0))

    def exists(self, ref: DataReference) -> bool:
        """Whether ``ref`` is an existing blob."""
        return self.head(ref).exists

    def read_raw(self, ref: DataReference, *, max_size: int | None = None) -> bytes:
        """Read a whole blob after checking its size.

        Raises:
            RemoteFileNotFoundError: There is no blob at ``ref``.
            RemoteFileExceedsMaxSizeError: It is larger than ``max_size`` (default:
                the store's limit).
            StorageError: Reading failed.
        """
        limit = self.max_download_bytes if max_size is None else max_size
        meta = self.head(ref)
        if not meta.exists:
            raise RemoteFileNotFoundError(f"no file at {ref}")
        if meta.size > limit:
            raise RemoteFileExceedsMaxSizeError(
                f"file {ref} is too large [{meta.size}] bytes, max allowed [{limit}] bytes"
            )
        fs, path = self._fs(ref)
        try:
            data: bytes = fs.cat_file(path)
        except FileNotFoundError:
            raise RemoteFileNotFoundError(f"no file at {ref}") from None
        except OSError as exc:
            raise StorageError(f"cannot read {ref}: {exc}") from exc
        return data

    def write_raw(self, ref: DataReference, data: bytes) -> None:
        """Write a whole blob, replacing any previous one.

        Raises:
            StorageError: Writing failed.
        """
        fs, path = self._fs(ref)
        try:
            if "file" in _protocols(fs):
                _atomic_local_write(path, data)
            else:
                fs.pipe_file(path, data)
        except OSError as exc:
            raise _failed(ref, exc) from exc

    def write_many(
        self, blobs: Sequence[tuple[DataReference, bytes]], *, concurrency: int = WRITE_CONCURRENCY
    ) -> None:
        """Write many whole blobs, each as :meth:`write_raw` does.

        Local files (and ``memory://``) are written one after another: that work is this
        process's own, and threads would only contend for it. An object store's writes
        run ``concurrency`` at a time, as coroutines on the filesystem's event loop when
        it is asynchronous (s3fs, gcsfs, adlfs), else on threads.

        Args:
            blobs: ``(reference, bytes)`` pairs.
            concurrency: The most writes in flight to an object store.

        Raises:
            StorageError: A write failed; the message names the first failed reference
                (in the order given) and how many others failed. Every other write was
                attempted.
            ValueError: ``concurrency`` is below 1.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        groups: dict[int, tuple[Any, list[tuple[int, DataReference, str, bytes]]]] = {}
        for index, (ref, data) in enumerate(blobs):
            fs, path = self._fs(ref)
            groups.setdefault(id(fs), (fs, []))[1].append((index, ref, path, data))
        failures: list[tuple[int, StorageError]] = []
        for fs, writes in groups.values():
            if _local(fs):
                for index, ref, _, data in writes:
                    try:
                        self.write_raw(ref, data)
                    except StorageError as exc:
                        failures.append((index, exc))
            elif getattr(fs, "async_impl", False):
                from fsspec.asyn import sync  # noqa: PLC0415 - see _local_filesystem

                failures += sync(fs.loop, _pipe_all, fs, writes, concurrency)
            else:
                failures += _threaded(fs, writes, concurrency)
        if failures:
            failures.sort(key=lambda failure: failure[0])
            first = failures[0][1]
            if len(failures) == 1:
                raise first
            more = f"{first.message} ({len(failures) - 1} other write(s) failed too)"
            raise StorageError(more, code=first.code) from first.__cause__

    def read_protobuf(
        self, ref: DataReference, message_type: type[M], *, max_size: int | None = None
    ) -> M:
        """Read and parse a protobuf file.

        Raises:
            RemoteFileNotFoundError: There is no file.
            RemoteFileExceedsMaxSizeError: It is too large.
            MalformedProtobufError: It does not parse; the message names the file and type.
        """
        data = self.read_raw(ref, max_size=max_size)
        try:
            return parse_message(message_type, data)
        except DecodeError as exc:
            raise MalformedProtobufError(
                f"{ref} is not a valid {message_type.DESCRIPTOR.full_name}: {exc}"
            ) from exc

    def write_protobuf(self, ref: DataReference, message: Message) -> None:
        """Serialize and write a protobuf message."""
        self.write_raw(ref, message.SerializeToString(deterministic=True))

    def list(self, prefix: DataReference) -> list[DataReference]:
        """Blobs directly in ``prefix``'s directory whose name starts with its last segment.

        ``list("s3://b/out/error")`` finds ``s3://b/out/error.pb`` and
        ``s3://b/out/error-1.pb``, sorted by name.

        Raises:
            StorageError: Listing failed.
        """
        directory, _, stem = prefix.rstrip("/").rpartition("/")
        if not directory:
            raise StorageError(f"cannot list {prefix!r}: it has no directory part")
        fs, path = self._fs(directory)
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"cannot list {directory}: {exc}") from exc
        names = sorted(
            str(e["name"]).rstrip("/").rpartition("/")[2]
            for e in entries
            if e.get("type") != "directory"
        )
        return [f"{directory}/{name}" for name in names if name.startswith(stem)]

    def delete(self, ref: DataReference) -> None:
        """Delete a blob; a missing blob is fine."""
        fs, path = self._fs(ref)
        try:
            fs.rm_file(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StorageError(f"cannot delete {ref}: {exc}") from exc


def _protocols(fs: Any) -> tuple[str, ...]:
    proto = fs.protocol
    return (proto,) if isinstance(proto, str) else tuple(proto)


def _local(fs: Any) -> bool:
    """Whether writes to ``fs`` cost this process's CPU rather than a wait on the network."""
    return bool({"file", "local", "memory"} & set(_protocols(fs)))


_Write = tuple[int, DataReference, str, bytes]
"""One write of :meth:`DataStore.write_many`: its index, reference, path and bytes."""


def _failed(ref: DataReference, exc: OSError) -> StorageError:
    error = StorageError(f"cannot write {ref}: {exc}")
    error.__cause__ = exc
    return error


async def _pipe_all(
    fs: Any, writes: Sequence[_Write], concurrency: int
) -> list[tuple[int, StorageError]]:
    """Write on an asynchronous filesystem's loop, ``concurrency`` at a time; the failures."""
    import asyncio  # noqa: PLC0415 - see _local_filesystem

    gate = asyncio.Semaphore(concurrency)

    async def write(ref: DataReference, path: str, data: bytes) -> None:
        async with gate:
            await fs._pipe_file(path, data)

    results = await asyncio.gather(
        *(write(ref, path, data) for _, ref, path, data in writes), return_exceptions=True
    )
    failures = []
    for (index, ref, _, _), result in zip(writes, results, strict=True):
        if isinstance(result, OSError):
            failures.append((index, _failed(ref, result)))
        elif isinstance(result, BaseException):
            raise result  # not a storage failure: a bug, or a cancellation, as write_raw lets it
    return failures


def _threaded(
    fs: Any, writes: Sequence[_Write], concurrency: int
) -> list[tuple[int, StorageError]]:
    """Write on threads (a synchronous object store), ``concurrency`` at a time; the failures."""

    def write(item: _Write) -> tuple[int, StorageError] | None:
        index, ref, path, data = item
        try:
            fs.pipe_file(path, data)
        except OSError as exc:
            return index, _failed(ref, exc)
        return None

    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - see _local_filesystem

    with ThreadPoolExecutor(max_workers=min(concurrency, len(writes))) as pool:
        return [failure for failure in pool.map(write, writes) if failure is not None]


@functools.cache
def _local_filesystem() -> Any:
    """The local filesystem of fsspec, imported when first used, as the rest of fsspec is.

    fsspec brings asyncio, ssl and importlib.metadata with it. A process that imports this
    module and never touches storage (the task launcher, whose memory every isolated run's
    fork maps, copies and unmaps) is lighter without them.
    """
    from fsspec.implementations.local import LocalFileSystem  # noqa: PLC0415

    return LocalFileSystem()


_TEMPORARY = itertools.count()
"""Numbers temporary file names; with the process and thread ids they are unique."""

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


def _atomic_local_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = _temporary(directory)
    try:
        handle = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)  # fdopen failed before it owned the descriptor
        _discard(tmp)
        raise
    try:
        with handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def _temporary(directory: str) -> tuple[int, str]:
    """A new private file beside the target (0600, as ``mkstemp`` makes them): fd and path.

    Named by process, thread and a counter, which is unique among live writers; a name
    left by a killed process whose pid came back is skipped for a random one.
    """
    name = f".tmp-{os.getpid()}-{threading.get_ident()}-{next(_TEMPORARY)}.part"
    for _ in range(3):
        tmp = os.path.join(directory, name)
        try:
            return os.open(tmp, _CREATE, 0o600), tmp
        except FileNotFoundError:  # a new directory: create it only then (a syscall saved)
            os.makedirs(directory, exist_ok=True)
        except FileExistsError:
            name = f".tmp-{uuid.uuid4().hex}.part"
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}.part")
    return os.open(tmp, _CREATE, 0o600), tmp
