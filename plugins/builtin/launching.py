"""What a worker asks of a task launcher, and how the two talk.

A worker starts each task process in one of two ways (``FLYTE_CELERY_TASK_LAUNCHER``):

- ``fork`` (the default): a launcher, a Python process started once per worker process
  with a task's clean environment, that has imported the task runtime, forks the task's
  process. No interpreter start and no import per run. ``@task`` runs and flytekit's
  templates have a launcher each (flytekit's has imported flytekit too).
- ``spawn``: a fresh interpreter per run, for code that cannot be forked.

A run is a :class:`Launch`: what to run, with which environment, in which folder. The
worker writes it, framed, into a pipe the task's process reads; the launcher reports the
process's id and, once it has reaped it, its exit status, in status messages on a
socket of the run.
"""

from __future__ import annotations

import enum
import importlib.util
import json
import os
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from plugins.builtin.task_env import enum_setting
from plugins.errors import ConfigError
from plugins.tasks.sources import installed_roots, is_installed

__all__ = [
    "LAUNCHER_VARIABLE",
    "PRELOAD_VARIABLE",
    "READY",
    "RUN",
    "Launch",
    "LaunchKind",
    "StatusKind",
    "TaskLauncher",
    "launcher_preload",
    "preloaded_modules",
    "status_message",
    "task_launcher",
]

LAUNCHER_VARIABLE = "FLYTE_CELERY_TASK_LAUNCHER"
PRELOAD_VARIABLE = "FLYTE_CELERY_TASK_PRELOAD"

READY = b"!"
"""The byte a launcher sends on its control socket once it can fork."""
RUN = b"R"
"""The byte that carries a run's descriptors (one byte per message: the sockets are
streams, as every platform has them, and the descriptors travel with their byte)."""

_LENGTH = struct.Struct("!I")
_STATUS = struct.Struct("!ci")
STATUS_SIZE = _STATUS.size
"""The size of one status message."""


class TaskLauncher(enum.Enum):
    """How a worker starts a task's process."""

    FORK = "fork"
    """Forked by a pre-started launcher: no interpreter start or import per run."""
    SPAWN = "spawn"
    """A fresh interpreter per run."""


def task_launcher(environ: Mapping[str, str] | None = None) -> TaskLauncher:
    """The launcher ``FLYTE_CELERY_TASK_LAUNCHER`` asks for (``fork`` by default).

    Raises:
        ConfigError: The value is neither ``fork`` nor ``spawn``.
    """
    return enum_setting(LAUNCHER_VARIABLE, TaskLauncher, TaskLauncher.FORK, environ)


def preloaded_modules(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The installed packages launchers import ahead (``FLYTE_CELERY_TASK_PRELOAD``; none).

    The launcher of flytekit's templates imports flytekit as well (:func:`launcher_preload`).

    Raises:
        ConfigError: A name is not a module name, not installed, or not in
            ``site-packages`` (user code is read fresh for each run, never preloaded).
    """
    value = (os.environ if environ is None else environ).get(PRELOAD_VARIABLE, "")
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    roots = installed_roots()
    for name in names:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ConfigError(f"{PRELOAD_VARIABLE}: {name!r} is not a module name")
        spec = importlib.util.find_spec(name.partition(".")[0])
        origin = (
            None
            if spec is None
            else (spec.origin or next(iter(spec.submodule_search_locations or []), None))
        )
        if origin is None:
            raise ConfigError(f"{PRELOAD_VARIABLE}: {name!r} is not installed")
        if origin not in ("built-in", "frozen") and not is_installed(origin, roots):
            raise ConfigError(
                f"{PRELOAD_VARIABLE}: {name!r} is at {origin}, not in site-packages; only "
                "installed packages are preloaded (user code is read fresh for each run)"
            )
    return names


class LaunchKind(enum.Enum):
    """What a task's process runs."""

    TASK = "task"
    """A ``@task`` whose folder the worker prepared (``task_child``'s work)."""
    FLYTEKIT = "flytekit"
    """flytekit's entrypoint (``pyflyte-execute`` ...) with its arguments."""


def launcher_preload(kind: LaunchKind, preload: tuple[str, ...]) -> tuple[str, ...]:
    """What the launcher of ``kind``'s processes imports ahead.

    ``@task`` runs and flytekit's have launchers of their own: a fork costs more the
    larger its launcher is, and a launcher that imported flytekit is twice the size.
    """
    if kind is LaunchKind.FLYTEKIT and "flytekit" not in preload:
        return ("flytekit", *preload)
    return preload


@dataclass(frozen=True)
class Launch:
    """One task process to start.

    Attributes:
        kind: What it runs.
        args: The task's folder (``TASK``), or the entrypoint and its arguments (``FLYTEKIT``).
        env: Its whole environment.
        cwd: Its working folder.
    """

    kind: LaunchKind
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str = ""

    def spawn_args(self) -> list[str]:
        """The command line of a fresh interpreter that runs it."""
        if self.kind is LaunchKind.TASK:
            module = ["plugins.builtin.task_child", *self.args, str(os.getpid())]
        else:
            module = ["plugins.builtin.exec_child", "--", *self.args]
        return [sys.executable, "-m", *module]

    def encode(self) -> bytes:
        """The launch as a length-prefixed JSON document."""
        data = {"kind": self.kind.value, "args": list(self.args), "env": dict(self.env),
                "cwd": self.cwd}  # fmt: skip
        body = json.dumps(data).encode()
        return _LENGTH.pack(len(body)) + body

    @classmethod
    def read(cls, fd: int) -> Launch:
        """Read an encoded launch from ``fd``.

        Raises:
            ValueError: What ``fd`` holds is not a whole launch.
        """
        (length,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size))
        data = json.loads(_read_exactly(fd, length))
        return cls(LaunchKind(data["kind"]), tuple(data["args"]), data["env"], data["cwd"])


def _read_exactly(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise ValueError("the launch ended early")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class StatusKind(enum.Enum):
    """What a status message from the launcher says."""

    STARTED = b"P"
    """The task's process started; the value is its id (and its process group's)."""
    EXITED = b"X"
    """It was reaped; the value is its exit code, or minus the signal that killed it."""
    FAILED = b"E"
    """It could not be started; the value is the ``errno`` of the fork."""


def status_message(kind: StatusKind, value: int) -> bytes:
    """One status message."""
    return _STATUS.pack(kind.value, value)


def parse_status(data: bytes) -> tuple[StatusKind, int]:
    """The kind and value of one status message (``STATUS_SIZE`` bytes).

    Raises:
        ValueError: It is not one.
    """
    tag, value = _STATUS.unpack(data)
    return StatusKind(tag), int(value)
