"""The task launcher: a process that forks task processes for one worker process.

A worker process starts it (see ``launcher_client``) with a task's clean environment,
as the task user when one is set, and keeps one end of a socket pair, the *control*
socket; the launcher's first act is to make itself non-dumpable, so the task processes
it forks, which run as its account, cannot trace it and plant code in later forks. It
then drops its privileges as a task process does, imports the task runtime and the
installed packages it is told to preload (flytekit, for the launcher of flytekit's
templates), never user code, runs a task of its own to warm up (``launcher_warm``),
and serves, single-threaded so that forking is safe:

- it keeps one task process forked ahead, a spare (``forked``), that waits for a run;
- each message on the control socket carries a run's three descriptors: the run's
  status socket, the pipe holding its :class:`~plugins.builtin.launching.Launch`, and
  its log file. The launcher hands the pipe and the log to the spare, which becomes
  the run, writes the spare's id on the status socket, and forks the next spare;
- when a child ends, the launcher kills what is left of its process group and writes its
  exit status (then forgets it);
- when the worker closes a run's status socket before its end (an abort, a timeout, a
  dying worker), the launcher kills the child's group at once;
- when the control socket closes, its worker process is gone: the launcher kills every
  child's group, removes its folder and exits. It runs in a session of its own, and
  ignores the signals that stop a worker (SIGINT, SIGTERM, SIGHUP): a launcher ends
  with its worker process, not before it, so that it can stop its task processes then.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import os
import selectors
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path

from plugins.builtin import forked
from plugins.builtin.launcher_warm import warm_up
from plugins.builtin.launching import (
    PRELOAD_VARIABLE,
    READY,
    RUN,
    StatusKind,
    status_message,
)
from plugins.builtin.privileges import drop_privileges, protect_process
from plugins.tasks.sources import installed_roots, read_user_code_fresh

__all__ = ["main"]

_DESCRIPTORS = 3  # status socket, launch pipe, log file


def _say(message: str) -> None:
    # The launcher's output is a file in its folder; the worker relays it to its log.
    print(f"task launcher: {message}", file=sys.stderr, flush=True)


def _preload(names: list[str]) -> None:
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            _say(f"could not preload {name} ({exc}); task processes import it themselves")
    if "flytekit" in sys.modules:
        try:
            importlib.import_module("plugins.builtin.flytekit_entry")
        except Exception as exc:
            _say(f"could not preload flytekit's entrypoint ({exc})")


def _threads() -> int:
    try:
        status = Path("/proc/self/status").read_text()
        return int(status.split("Threads:")[1].split()[0])
    except (OSError, IndexError, ValueError):
        return threading.active_count()


def _exited() -> tuple[int, int] | None:
    """The next ended child: (pid, exit code), or None. Its group is killed before it is reaped.

    While a child is a zombie its id, which is its group's id, cannot be reused, so the
    kill cannot reach anyone else.
    """
    try:
        if hasattr(os, "waitid"):
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None:
                return None
            pid = info.si_pid
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        else:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return None
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
    except ChildProcessError:
        return None
    return pid, os.waitstatus_to_exitcode(status)


class _Spare:
    """A task process forked ahead, waiting for its run on its channel."""

    def __init__(self, base_path: list[str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        launcher = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            raise
        if pid == 0:
            forked.serve(theirs.fileno(), launcher, base_path)
        theirs.close()
        self.pid, self._channel = pid, ours

    def hand(self, request_fd: int, log_fd: int) -> bool:
        """Give it its run; whether it took it (it may have been killed meanwhile)."""
        try:
            socket.send_fds(self._channel, [RUN], [request_fd, log_fd])
        except OSError:
            return False
        finally:
            self._channel.close()
        return True

    def dismiss(self) -> None:
        self._channel.close()  # it reads the end of its channel, and exits


class _Server:
    def __init__(self, control: socket.socket, base_path: list[str]) -> None:
        self._control = control
        self._base_path = base_path
        self._selector = selectors.DefaultSelector()
        self._runs: dict[int, socket.socket] = {}
        self._spare: _Spare | None = None
        self._wake, wake_write = os.pipe()
        os.set_blocking(self._wake, False)
        os.set_blocking(wake_write, False)
        signal.set_wakeup_fd(wake_write)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the loop through the pipe

    def serve(self) -> None:
        self._selector.register(self._control, selectors.EVENT_READ)
        self._selector.register(self._wake, selectors.EVENT_READ)
        self._prepare()
        self._control.sendall(READY)
        while True:
            for key, _ in self._selector.select():
                if key.fileobj is self._control:
                    if not self._accept():
                        return
                elif key.fileobj == self._wake:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake, 512):
                            pass
                    self._reap()
                else:
                    self._abandoned(key.data)

    def _prepare(self) -> None:
        # The next run's process, forked now: a run waits for neither the fork nor the
        # steps that do not depend on it.
        if self._spare is None:
            with contextlib.suppress(OSError):
                self._spare = _Spare(self._base_path)

    def _start(self, request_fd: int, log_fd: int) -> int:
        """The pid of a process now running this launch."""
        for _ in range(2):
            self._prepare()
            spare, self._spare = self._spare, None
            if spare is None:
                break
            if spare.hand(request_fd, log_fd):
                return spare.pid
        raise OSError(errno.EAGAIN, "no task process could be forked")

    def _accept(self) -> bool:
        try:
            message, fds, _, _ = socket.recv_fds(self._control, 1, _DESCRIPTORS)
        except OSError:
            return False
        if not message:
            for fd in fds:
                os.close(fd)
            return False
        if message != RUN or len(fds) != _DESCRIPTORS:
            _say(f"ignored a request with {len(fds)} descriptors")
            for fd in fds:
                os.close(fd)
            return True
        status_fd, request_fd, log_fd = fds
        status = socket.socket(fileno=status_fd)
        try:
            pid = self._start(request_fd, log_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                status.sendall(status_message(StatusKind.FAILED, exc.errno or 0))
            status.close()
            return True
        finally:
            os.close(request_fd)
            os.close(log_fd)
        with contextlib.suppress(OSError):
            status.sendall(status_message(StatusKind.STARTED, pid))
        self._runs[pid] = status
        self._selector.register(status, selectors.EVENT_READ, pid)
        self._prepare()
        return True

    def _abandoned(self, pid: int) -> None:
        # The worker never writes on a run's socket: readable means it closed it.
        status = self._runs.get(pid)
        if status is None:
            return  # reaped in this round already
        self._selector.unregister(status)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)

    def _reap(self) -> None:
        while (ended := _exited()) is not None:
            pid, code = ended
            if self._spare is not None and pid == self._spare.pid:
                self._spare.dismiss()  # killed while it waited: the next run makes another
                self._spare = None
            status = self._runs.pop(pid, None)
            if status is None:
                continue
            with contextlib.suppress(OSError):
                status.sendall(status_message(StatusKind.EXITED, code))
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(status)
            status.close()

    def stop(self) -> None:
        if self._spare is not None:
            self._spare.dismiss()
            with contextlib.suppress(OSError):
                os.kill(self._spare.pid, signal.SIGKILL)
                os.waitpid(self._spare.pid, 0)
        for pid in self._runs:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        for pid in list(self._runs):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def main(argv: list[str]) -> int:
    """Serve the worker process at the other end of control socket ``argv[0]``.

    Args:
        argv: The control socket's descriptor and the launcher's own folder (its
            ``TMPDIR``, removed when it ends).

    Returns:
        0 once its worker process is gone; 3 if privileges could not be dropped.
    """
    protect_process()
    control = socket.socket(fileno=int(argv[0]))
    folder = argv[1]
    try:
        drop_privileges()
    except PermissionError as exc:
        _say(str(exc))
        return 3
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    listed = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    base_path = [p for p in sys.path[1:] if p not in listed]
    _preload([n for n in os.environ.get(PRELOAD_VARIABLE, "").split(",") if n])
    if (threads := _threads()) > 1:
        _say(
            f"{threads} threads run after the preloads: a fork copies none of them and may "
            "find the locks they held taken; preload fewer packages"
        )
    # Once, here, not in each fork: from now on user code loads from its source, and no
    # finder of a user folder is left (the warm-up removes its own).
    read_user_code_fresh(installed_roots())
    try:
        warm_up(Path(folder) / "warm-up")
    except Exception as exc:
        _say(f"the warm-up did not run ({exc}); task processes start cold")
    # What is loaded now stays: children need not touch it, so their pages stay shared.
    gc.freeze()
    server = _Server(control, base_path)
    try:
        server.serve()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0
