"""Who task processes run as, and the environment every one of them starts from.

Shared by the task's own process (``task_process``) and the launcher that forks it
(``launcher_client``): both start with the same minimal environment, without any of the
worker's credentials, and as the same account.
"""

from __future__ import annotations

import enum
import functools
import os
import pwd
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from plugins.errors import ConfigError

__all__ = [
    "BASE_VARIABLES",
    "USER_VARIABLE",
    "TaskUser",
    "base_environment",
    "enum_setting",
    "exit_description",
    "import_path",
    "task_user",
]

BASE_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "TZ")
"""Worker variables every task process gets: none of them is a credential."""

USER_VARIABLE = "FLYTE_CELERY_TASK_USER"

E = TypeVar("E", bound=enum.Enum)


def enum_setting(
    variable: str, kind: type[E], default: E, environ: Mapping[str, str] | None = None
) -> E:
    """The member of ``kind`` that ``variable`` names (any case), ``default`` when unset.

    Raises:
        ConfigError: The value names no member; the message lists them.
    """
    value = (os.environ if environ is None else environ).get(variable, str(default.value))
    try:
        return kind(value.strip().lower())
    except ValueError:
        expected = " or ".join(repr(member.value) for member in kind)
        raise ConfigError(f"{variable}={value!r}: expected {expected}") from None


@dataclass(frozen=True)
class TaskUser:
    """The OS account task processes run as, when it differs from the worker's."""

    name: str
    uid: int
    gid: int
    home: str

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen``'s arguments that start a process as this account."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def task_user(name: str | None) -> TaskUser | None:
    """The account to run tasks as; ``None`` (no ``name``) means the worker's own.

    Raises:
        ConfigError: ``name`` is not an account, switching to it needs root, or it
            cannot run the task process (e.g. cannot read the Python interpreter).
    """
    if not name or not hasattr(os, "geteuid"):
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(f"{USER_VARIABLE}={name!r}: no such user") from None
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise ConfigError(
            f"{USER_VARIABLE}={name!r}: running tasks as another user needs a root worker"
        )
    user = TaskUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    probe = [sys.executable, "-c", "import plugins.builtin.task_child"]
    try:
        subprocess.run(
            probe,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": import_path()},
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        reason = detail.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(exc)]
        raise ConfigError(
            f"{USER_VARIABLE}={name!r}: that user cannot start a task process with "
            f"{sys.executable}: {reason[0]}"
        ) from None
    return user


def import_path() -> str:
    """The worker's own import path minus the interpreter's (a task process has that already).

    So a module that imports in the worker imports in the task's process too.
    """
    return _import_path(tuple(sys.path), os.getcwd())


@functools.lru_cache(maxsize=8)
def _import_path(entries: tuple[str, ...], cwd: str) -> str:
    # Asked for every run: the folders are resolved once per import path.
    system = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    keep: list[str] = []
    for entry in entries:
        path = os.path.normpath(os.path.join(cwd, entry))
        inside = any(os.path.realpath(path).startswith(root + os.sep) for root in system)
        if not inside and path not in keep:
            keep.append(path)
    return os.pathsep.join(keep)


def base_environment(user: TaskUser | None, tmp: str) -> dict[str, str]:
    """What every task process's environment starts with: nothing the worker keeps secret.

    The harmless basics of the worker's, the import path, unbuffered output, ``tmp`` as
    ``TMPDIR``, and the task user's ``HOME``, ``USER`` and ``LOGNAME``.
    """
    env = {name: os.environ[name] for name in BASE_VARIABLES if name in os.environ}
    env.update(PYTHONPATH=import_path(), PYTHONUNBUFFERED="1", TMPDIR=tmp)
    if user is not None:
        home = user.home if os.path.isdir(user.home) else tmp
        env.update(HOME=home, USER=user.name, LOGNAME=user.name)
    return env


def exit_description(code: int) -> str:
    """``exited with code N`` or ``was killed by signal N``."""
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"
