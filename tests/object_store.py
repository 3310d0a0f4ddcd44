"""A simulated object store: an asynchronous fsspec filesystem whose every write waits.

``slowmem://`` keeps blobs in memory, as ``memory://`` does, but each write first waits
``SlowMemoryFileSystem.latency`` (20 ms by default), as an upload to S3 or GCS does, without
using this process's CPU. It is asynchronous like s3fs, gcsfs and adlfs, so it shows whether
writes run concurrently. A path with a ``refused`` segment fails with ``PermissionError``.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import fsspec
from fsspec.asyn import AsyncFileSystem

__all__ = ["PROTOCOL", "SlowMemoryFileSystem"]

PROTOCOL = "slowmem"


class SlowMemoryFileSystem(AsyncFileSystem):  # type: ignore[misc]
    """Blobs in a dict shared by every instance; each write waits ``latency`` seconds first."""

    protocol = PROTOCOL
    latency: ClassVar[float] = 0.02
    blobs: ClassVar[dict[str, bytes]] = {}
    in_flight: ClassVar[int] = 0
    most_in_flight: ClassVar[int] = 0

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        return str(path).removeprefix(f"{PROTOCOL}://").rstrip("/")

    async def _pipe_file(self, path: str, data: bytes, **kwargs: Any) -> None:
        cls = type(self)
        cls.in_flight += 1
        cls.most_in_flight = max(cls.most_in_flight, cls.in_flight)
        try:
            await asyncio.sleep(cls.latency)
        finally:
            cls.in_flight -= 1
        path = self._strip_protocol(path)
        if "refused" in path.split("/"):
            raise PermissionError(f"access denied to {path}")
        cls.blobs[path] = bytes(data)

    async def _cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        try:
            return self.blobs[self._strip_protocol(path)][start:end]
        except KeyError:
            raise FileNotFoundError(path) from None

    async def _info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if path in self.blobs:
            return {"name": path, "size": len(self.blobs[path]), "type": "file"}
        if any(name.startswith(f"{path}/") for name in self.blobs):
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)


fsspec.register_implementation(PROTOCOL, SlowMemoryFileSystem, clobber=True)
