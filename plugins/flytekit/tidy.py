"""flytekit's temporary folders, removed when the process that imported flytekit ends.

Importing flytekit makes two folders in the temporary directory (``flyte-XXXX``, its
default file-access sandbox, and ``flyteXXXX``, its default ``local_sandbox_path``) and
never removes them: every worker, scheduler or demo start left two behind. A process of
ours that imports flytekit calls :func:`remove_temporary_folders_at_exit`; its folders
go when it ends. A forked child (a prefork pool process, which inherits them) leaves
them to its parent.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

__all__ = ["flytekit_temporary_folders", "remove_temporary_folders_at_exit"]

_registered: set[int] = set()


def flytekit_temporary_folders() -> list[str]:
    """The folders flytekit made as it was imported in this process (none if it was not)."""
    found: list[object] = []
    persistence = sys.modules.get("flytekit.core.data_persistence")
    if persistence is not None:
        found.append(getattr(persistence, "flyte_tmp_dir", None))
    configuration = sys.modules.get("flytekit.configuration")
    if configuration is not None:
        fields = getattr(getattr(configuration, "Config", None), "__dataclass_fields__", {})
        sandbox = fields.get("local_sandbox_path")
        found.append(getattr(sandbox, "default", None))
    temporary = os.path.realpath(tempfile.gettempdir())
    # Only folders of flytekit's naming in the temporary directory: never a configured path.
    return [
        folder
        for folder in found
        if isinstance(folder, str)
        and os.path.dirname(os.path.realpath(folder)) == temporary
        and os.path.basename(folder).startswith("flyte")
    ]


def remove_temporary_folders_at_exit() -> None:
    """Once flytekit is imported: remove its temporary folders when this process ends."""
    owner = os.getpid()
    if owner in _registered:
        return
    _registered.add(owner)
    atexit.register(_remove, owner, flytekit_temporary_folders())


def _remove(owner: int, folders: list[str]) -> None:
    if os.getpid() != owner:
        return  # a forked child running its parent's exit functions: the folders are the parent's
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
