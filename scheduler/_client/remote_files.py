"""Files for the API's client: inputs stored through the API, outputs read through it.

A caller of the API holds no storage credentials. A local ``File`` or ``Directory`` input is
staged in this process's memory as the inputs convert, then stored with
``POST /api/v1/uploads`` (:func:`store_staged`); a file output is read with
``GET /api/v1/files`` (:class:`ApiStore`, the store a remote ``Execution.result()`` reads
through), as far as the token may see.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from typing import IO, Any
from urllib.parse import quote

import fsspec
from flyteidl.core import literals_pb2

from plugins.io import DataStore
from scheduler._client.conversion import blob_refs

__all__ = ["ApiStore", "Call", "store_staged"]

Call = Callable[..., Any]
"""The client's ``_call(method, route, body=None, *, raw=None, **query)``: JSON, or bytes."""


def store_staged(
    call: Call, values: literals_pb2.LiteralMap, staging: str, project: str, domain: str
) -> None:
    """Store the files the inputs staged under ``staging``, and point the inputs at them."""
    memory = fsspec.filesystem("memory")
    staged_root = memory._strip_protocol(staging)
    try:
        batch: str | None = None
        for ref in blob_refs(values):
            if not ref.uri.startswith(staging + "/"):
                continue
            name = ref.uri[len(staging) + 1 :]  # <random>/<file or folder name>
            local = memory._strip_protocol(ref.uri)
            files = [local] if memory.isfile(local) else sorted(memory.find(local))
            root = ""
            for path in files:
                inner = posixpath.relpath(path, local)
                stored = call(
                    "POST", f"/api/v1/uploads/{quote(project)}/{quote(domain)}",
                    raw=memory.cat_file(path), batch=batch,
                    path=name if inner == "." else f"{name}/{inner}",
                )  # fmt: skip
                batch, root = stored["batch"], stored["root"]
            ref.uri = f"{root}/{name}"
    finally:
        if memory.exists(staged_root):
            memory.rm(staged_root, recursive=True)


class _ApiFiles:
    """The few filesystem calls a ``File`` or ``Directory`` output makes, through the API."""

    def __init__(self, call: Call) -> None:
        self._call = call

    def open(self, uri: str, mode: str = "rb") -> IO[bytes]:
        if mode not in ("r", "rb"):
            raise PermissionError(f"files read through the API are read-only, not {mode!r}")
        return io.BytesIO(self._call("GET", "/api/v1/files", uri=uri, raw_answer=True))

    def get_file(self, uri: str, local: str) -> None:
        with open(local, "wb") as target:
            target.write(self._call("GET", "/api/v1/files", uri=uri, raw_answer=True))

    def find(self, uri: str) -> list[str]:
        return list(self._call("GET", "/api/v1/files/list", uri=uri)["files"])


class ApiStore(DataStore):
    """A store whose reads go through the API (what a remote ``result()`` reads with)."""

    def __init__(self, call: Call) -> None:
        super().__init__()
        self._files = _ApiFiles(call)

    def filesystem(self, ref: str) -> tuple[Any, str]:
        """The API, and the URI itself (the server finds it in storage)."""
        return self._files, ref
