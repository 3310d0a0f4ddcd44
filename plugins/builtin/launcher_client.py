"""A worker process's task launcher, seen from the worker: started once, asked for each run.

One launcher serves one worker process (one per pool process, made again after a fork),
one task account and one set of preloaded packages (``@task`` runs and flytekit's each
have theirs). It is started on first use, or ahead by :func:`warm_up`, which a worker's
pool process calls as it starts, so its first ``@task`` does not wait for imports.

A run gives the launcher three descriptors: one end of a fresh socket pair (the run's
status: the task process's id, then its exit status), the read end of a pipe holding the
:class:`~plugins.builtin.launching.Launch` (the task's process reads it; the worker keeps
the write end open until the run is over, so its end tells the task the worker is gone),
and the run's log file. The worker kills the task's process group when the call is
cancelled or cut off, as it does a spawned process's.

A launcher that died is replaced on the next call; a run it was serving fails with a
system error naming it. One that cannot start fails the run the same way, with its output.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from plugins.builtin.launching import (
    PRELOAD_VARIABLE,
    READY,
    RUN,
    STATUS_SIZE,
    Launch,
    StatusKind,
    parse_status,
)
from plugins.builtin.task_env import TaskUser, base_environment, exit_description
from plugins.errors import TaskError

__all__ = ["LAUNCHER_FAILED", "Launcher", "launcher_for", "wanted", "warm_up"]

log = logging.getLogger("flyte_celery.task")

LAUNCHER_FAILED = "TaskLauncherFailed"
"""The error code of a run the launcher could not serve."""

READY_TIMEOUT = timedelta(seconds=120)
"""How long a launcher may take to import the task runtime and its preloads."""

_POLL_SECONDS = 0.2
_OUTPUT_TAIL = 4096

# Its first act, before any import: non-dumpable (prctl PR_SET_DUMPABLE, 0), so task
# processes of its account cannot trace it from the moment user code could exist.
BOOTSTRAP = (
    "import sys; sys.platform.startswith('linux') and "
    "__import__('ctypes').CDLL(None).prctl(4, 0, 0, 0, 0); "
    "from plugins.builtin.launcher import main; sys.exit(main(sys.argv[1:]))"
)


class Launcher:
    """The launcher of one worker process and one task account.

    Args:
        user: The account it and its task processes run as; ``None`` for the worker's.
        preload: Installed packages it imports ahead.
    """

    def __init__(self, user: TaskUser | None, preload: tuple[str, ...]) -> None:
        self._user = user
        self._preload = preload
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._folder: Path | None = None
        self._ready = False
        self._relayed = 0

    @property
    def pid(self) -> int | None:
        """The launcher's process id, if it was started."""
        return None if self._process is None else self._process.pid

    def warm(self) -> None:
        """Start the launcher now, without waiting for it to be ready.

        Raises:
            TaskError: It could not be started.
        """
        with self._lock:
            if self._process is None:
                self._start()

    def run(
        self, launch: Launch, log_path: Path, cancelled: threading.Event | None = None
    ) -> int | None:
        """Start ``launch`` in a forked process and wait for it, its output to ``log_path``.

        Returns:
            Its exit code (minus a signal that killed it), or ``None`` if ``cancelled``
            was set first; its process group is killed then, and on any exception
            (a Celery soft time limit) too.

        Raises:
            TaskError: The launcher could not start or serve the run (code
                ``TaskLauncherFailed``).
        """
        request = launch.encode()
        status, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_end, write_end = os.pipe()
        try:
            try:
                _fill(write_end, request)
                with log_path.open("wb") as output:
                    self._send([theirs.fileno(), read_end, output.fileno()])
            finally:
                theirs.close()
                os.close(read_end)
            return self._wait(status, cancelled)
        finally:
            status.close()
            os.close(write_end)  # a task process still running sees the worker gone

    def _send(self, fds: list[int]) -> None:
        with self._lock:
            for _ in range(2):
                control = self._ensure()
                try:
                    socket.send_fds(control, [RUN], fds)
                    return
                except OSError as exc:
                    log.warning("the task launcher (pid %s) is gone (%s)", self.pid, exc)
                    self._discard()
        raise TaskError("the task launcher took no run twice in a row", code=LAUNCHER_FAILED)

    def _wait(self, status: socket.socket, cancelled: threading.Event | None) -> int | None:
        status.settimeout(_POLL_SECONDS)
        received = b""
        pid: int | None = None
        try:
            while True:
                try:
                    chunk = status.recv(64)
                except TimeoutError:
                    if cancelled is not None and cancelled.is_set():
                        return None
                    continue
                if not chunk:
                    raise TaskError(self._lost(pid), code=LAUNCHER_FAILED)
                received += chunk
                while len(received) >= STATUS_SIZE:
                    kind, value = parse_status(received[:STATUS_SIZE])
                    received = received[STATUS_SIZE:]
                    if kind is StatusKind.STARTED and value > 1:
                        pid = value
                    elif kind is StatusKind.EXITED:
                        pid = None  # reaped, and its group killed, by the launcher
                        return value
                    elif kind is StatusKind.FAILED:
                        message = f"the task launcher could not fork: {os.strerror(value)}"
                        raise TaskError(message, code=LAUNCHER_FAILED)
        finally:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)

    def _lost(self, pid: int | None) -> str:
        process = self._process
        code = None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = process.wait(5)
        ended = "ended" if code is None else exit_description(code)
        running = "while the task ran" if pid is not None else "before the task started"
        who = f"the task launcher (pid {process.pid if process else '?'})"
        return f"{who} {ended} {running}; the next run starts a new one{self._output()}"

    def _ensure(self) -> socket.socket:
        process = self._process
        if process is not None and process.poll() is not None:
            log.warning(
                "the task launcher (pid %d) %s; starting another%s",
                process.pid, exit_description(process.returncode), self._output(),
            )  # fmt: skip
            self._discard()
        if self._process is None:
            self._start()
        if not self._ready:
            self._await_ready()
        assert self._control is not None
        return self._control

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        folder: Path | None = None
        try:
            folder = Path(tempfile.mkdtemp(prefix="flyte-celery-launcher-"))
            if self._user is not None:
                os.chown(folder, self._user.uid, self._user.gid)
            env = base_environment(self._user, str(folder))
            env[PRELOAD_VARIABLE] = ",".join(self._preload)
            options: dict[str, Any] = {} if self._user is None else self._user.popen_options()
            with (folder / "launcher.log").open("wb") as output:
                # A session of its own: a signal for the worker's group does not end it
                # before it has killed its task processes (it ends with its worker process).
                process = subprocess.Popen(
                    [sys.executable, "-c", BOOTSTRAP, str(theirs.fileno()), str(folder)],
                    env=env, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                    stdout=output, stderr=output, start_new_session=True, **options,
                )  # fmt: skip
        except OSError as exc:
            ours.close()
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
            message = f"the task launcher could not start: {exc}"
            raise TaskError(message, code=LAUNCHER_FAILED) from None
        finally:
            theirs.close()
        self._process, self._control, self._folder = process, ours, folder
        self._ready, self._relayed = False, 0

    def _await_ready(self) -> None:
        control, process = self._control, self._process
        assert control is not None
        assert process is not None
        control.settimeout(READY_TIMEOUT.total_seconds())
        try:
            said = control.recv(1)
        except TimeoutError:
            said = b""
        finally:
            control.settimeout(None)
        if said == READY:
            self._ready = True
            output = self._output()
            if output:
                log.warning("the task launcher (pid %d) started%s", process.pid, output)
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.returncode is None:
            reason = f"it was not ready after {READY_TIMEOUT.total_seconds():.0f} s"
        else:
            reason = f"it {exit_description(process.returncode)}"
        message = f"the task launcher could not start: {reason}{self._output()}"
        self._discard()
        raise TaskError(message, code=LAUNCHER_FAILED)

    def _output(self) -> str:
        """What the launcher wrote since this was last asked, as ``: <text>``."""
        if self._folder is None:
            return ""
        try:
            with (self._folder / "launcher.log").open("rb") as fh:
                fh.seek(self._relayed)
                data = fh.read()
        except OSError:
            return ""
        self._relayed += len(data)
        text = data[-_OUTPUT_TAIL:].decode("utf-8", "replace").strip()
        return f"; its output:\n{text}" if text else ""

    def _discard(self) -> None:
        process, control, folder = self._process, self._control, self._folder
        self._process, self._control, self._folder, self._ready = None, None, None, False
        if control is not None:
            control.close()
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Let the launcher end: it kills its task processes and exits once it hears of it."""
        with self._lock:
            process, control = self._process, self._control
            self._process, self._control, self._folder, self._ready = None, None, None, False
        if control is not None:
            control.close()
        if process is not None:
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def forget(self) -> subprocess.Popen[bytes] | None:
        """Drop the launcher without stopping it: a forked copy of its worker process does.

        The launcher belongs to the process that started it; this copy only closes its
        copy of the control socket, so the launcher still ends with its own worker.

        Returns:
            The launcher's process, to be kept: collecting it would warn that it runs.
        """
        process = self._process
        if self._control is not None:
            self._control.close()
        self._process, self._control, self._folder, self._ready = None, None, None, False
        return process


def _fill(fd: int, data: bytes) -> None:
    # Written whole before the launcher hears of the run, so this never blocks. A pipe
    # holds 64 KiB; a larger launch (a very large environment) asks for a larger pipe.
    if len(data) > 65536 and hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, len(data))
    os.set_blocking(fd, False)
    try:
        written = os.write(fd, data)
    except BlockingIOError:
        written = 0
    if written < len(data):
        raise TaskError(
            f"the task's environment and arguments take {len(data)} bytes, more than a "
            "pipe to its process holds; set FLYTE_CELERY_TASK_LAUNCHER=spawn for it",
            code=LAUNCHER_FAILED,
        )


Key = tuple[TaskUser | None, tuple[str, ...]]


class _Registry:
    """This process's launchers, and those its forks will want."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.launchers: dict[Key, Launcher] = {}
        self.wanted: set[Key] = set()
        self.forgotten: list[subprocess.Popen[bytes] | None] = []


_REGISTRY = _Registry()


def launcher_for(user: TaskUser | None, preload: tuple[str, ...]) -> Launcher:
    """This process's launcher for ``user`` and ``preload`` (made, not started, if new)."""
    with _REGISTRY.lock:
        key = (user, preload)
        if key not in _REGISTRY.launchers:
            _REGISTRY.launchers[key] = Launcher(user, preload)
        return _REGISTRY.launchers[key]


def wanted(user: TaskUser | None, preload: tuple[str, ...]) -> None:
    """Note that this process's forks (a worker's pool processes) will want this launcher."""
    _REGISTRY.wanted.add((user, preload))


def warm_up() -> None:
    """Start every wanted launcher of this process now, in the background.

    A worker's pool process calls it as it starts; a failure is logged, and the first
    run tries again (and fails clearly if it must).
    """
    for user, preload in sorted(_REGISTRY.wanted, key=repr):
        try:
            launcher_for(user, preload).warm()
        except TaskError as exc:
            log.warning("%s", exc)


def _after_fork() -> None:
    _REGISTRY.lock = threading.Lock()  # a lock another thread held at the fork stays held
    for launcher in _REGISTRY.launchers.values():
        _REGISTRY.forgotten.append(launcher.forget())
    _REGISTRY.launchers.clear()


def _close_all() -> None:
    for launcher in list(_REGISTRY.launchers.values()):
        launcher.close()


os.register_at_fork(after_in_child=_after_fork)
atexit.register(_close_all)
