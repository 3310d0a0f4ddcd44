"""Files through the API: uploads for inputs, and reading executions' files back.

A caller holds no storage credentials, so the server stores what it uploads and reads what
it may see. Uploads go to ``<storage>/uploads/<project>/<domain>/<batch>/``; an execution's
files are under ``<storage>/executions/<project>/<domain>/<name>/``. Either kind of file
belongs to its project and domain (:func:`owner_of`): an upload needs the submitter role
there, a read the viewer role, and a submission's inputs may point only at its own
project's and domain's files.
"""

from __future__ import annotations

import re
import secrets

from plugins.io import join_reference
from scheduler._model import Role
from scheduler.console.api import ApiError, Call
from scheduler.console.api_models import FilesView, UploadView

__all__ = ["list_files", "owner_of", "read_file", "upload"]

_BATCH = re.compile(r"[0-9a-f]{32}")
_PART = re.compile(r"[^/\\\x00-\x1f]{1,255}")


def _parts(text: str) -> list[str] | None:
    parts = text.split("/")
    safe = all(_PART.fullmatch(p) and p not in (".", "..") for p in parts)
    return parts if safe else None


def owner_of(storage: str, uri: str) -> tuple[str, str] | None:
    """The project and domain whose file ``uri`` is; ``None``: none's (or a crafted path)."""
    for tree in ("executions", "uploads"):
        base = join_reference(storage, tree) + "/"
        if uri.startswith(base):
            parts = _parts(uri[len(base) :])
            if parts is not None and len(parts) >= 3:
                return parts[0], parts[1]
    return None


def _readable(call: Call) -> str:
    uri = call.query.get("uri", "")
    owner = owner_of(call.client.settings.storage, uri)
    if owner is None:
        raise ApiError(400, "InvalidQuery", "uri: a file of an execution or of an upload")
    call.require(Role.VIEWER, *owner)
    return uri


def read_file(call: Call, parts: dict[str, str], body: None) -> bytes:
    """A file's bytes, up to the deployment's largest download."""
    uri = _readable(call)
    store = call.client.runtime.data_store
    return store.read_raw(uri, max_size=call.client.settings.max_download_bytes)


def list_files(call: Call, parts: dict[str, str], body: None) -> FilesView:
    """Every file under a folder, as URIs, sorted."""
    uri = _readable(call).rstrip("/")
    fs, path = call.client.runtime.data_store.filesystem(uri)
    try:
        found = sorted(str(name) for name in fs.find(path))
    except FileNotFoundError:
        found = []
    base = path.rstrip("/") + "/"
    return FilesView(
        files=[f"{uri}/{name[len(base) :]}" for name in found if name.startswith(base)]
    )


def upload(call: Call, parts: dict[str, str], body: bytes) -> UploadView:
    """Store a file for the project, to pass as an input (the API converts no local path)."""
    project, domain = parts["project"], parts["domain"]
    call.require(Role.SUBMITTER, project, domain)
    segments = _parts(call.query.get("path", ""))
    if segments is None:
        raise ApiError(400, "InvalidQuery", "path: a file name, or names joined by /")
    batch = call.query.get("batch") or secrets.token_hex(16)
    if not _BATCH.fullmatch(batch):
        raise ApiError(400, "InvalidQuery", "batch: the batch an earlier upload returned")
    root = join_reference(call.client.settings.storage, "uploads", project, domain, batch)
    uri = join_reference(root, *segments)
    call.client.runtime.data_store.write_raw(uri, body)
    return UploadView(uri=uri, batch=batch, root=root)
