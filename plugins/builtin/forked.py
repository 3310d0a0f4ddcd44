"""A task's process forked by the launcher: first made the equal of a fresh one, then the run.

The launcher forks it ahead, as a spare, before its run is known. Right after the fork
it is a copy of the launcher; before its run comes:

- it leads a session and process group of its own (the worker kills the group on abort
  or timeout), and dies with the launcher;
- it keeps no descriptor of the launcher's (no way to ask it for forks or to reach
  another run's channel) but its channel from the launcher, and stays non-dumpable.

When the launcher hands it a run (the pipe the worker wrote the
:class:`~plugins.builtin.launching.Launch` into, and the log), and before any user code
runs:

- its standard streams go to the run's log, and it is dumpable again, as a fresh
  process is;
- its environment is replaced wholesale by the run's, and what was cached from the
  launcher's is dropped: the temporary folder, the time zone, the import path; the
  launcher kept no finder of a user folder, and user modules are read from their source
  (see :mod:`plugins.tasks.sources`);
- it exits when the worker goes away (the pipe's end) as ``task_child`` does.

Then it runs the task as ``task_child`` would, or flytekit's entrypoint in this process.
"""

from __future__ import annotations

import _thread
import atexit
import contextlib
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from plugins.builtin import task_child
from plugins.builtin.launching import RUN, Launch, LaunchKind
from plugins.builtin.privileges import die_with_parent, unprotect_process
from plugins.builtin.task_child import ORPHAN_EXIT_CODE, orphaned, run_folder

__all__ = ["serve"]


def _detach(channel: int, launcher_pid: int) -> None:
    """Everything that does not depend on the run: done before the run is known."""
    os.setsid()
    die_with_parent(signal.SIGKILL)
    if os.getppid() != launcher_pid:  # it ended before the line above took effect
        os._exit(ORPHAN_EXIT_CODE)
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # Everything but the channel goes: the launcher's control socket, other runs' channels.
    os.closerange(3, channel)
    os.closerange(channel + 1, os.sysconf("SC_OPEN_MAX"))


def _receive(channel: int) -> int:
    """Wait for the run's launch pipe and log; the pipe's descriptor.

    The process stays non-dumpable while it waits, as the launcher is: a task process of
    the same account must not plant code in it before it runs someone else's task.
    """
    with socket.socket(fileno=channel) as sock:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 1, 2)
        except OSError:
            message, fds = b"", []
    if message != RUN or len(fds) != 2:
        os._exit(0)  # the launcher is gone, or had no run for it
    request_fd, log_fd = fds
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.close(log_fd)
    unprotect_process()
    return request_fd


def _watch_worker(request_fd: int) -> None:
    # The worker holds the pipe's other end until the run is over: its end means the
    # worker stopped waiting or died (a SIGKILL leaves it no chance to kill this process).
    with contextlib.suppress(OSError):
        os.read(request_fd, 1)
        orphaned()


def _become(launch: Launch, base_path: Sequence[str]) -> None:
    zone = os.environ.get("TZ")
    os.environ.clear()  # os.environb shares its data
    os.environ.update(launch.env)
    try:
        here: str | None = os.getcwd()
    except OSError:
        here = None
    if launch.cwd and launch.cwd != here:
        # Only when it differs: a task user may be unable to enter the worker's folder, and
        # a spawned task process inherits it without entering it, as this one did.
        os.chdir(launch.cwd)
    tempfile.tempdir = None
    if os.environ.get("TZ") != zone:
        time.tzset()
    listed = [p for p in launch.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if launch.kind is LaunchKind.TASK:
        # As ``python -m plugins.builtin.task_child`` started in the worker's folder has it.
        first = os.path.abspath(launch.cwd)
        sys.argv = [task_child.__file__ or "task_child", *launch.args]
    else:
        script = shutil.which(launch.args[0], path=launch.env.get("PATH")) or sys.executable
        first = os.path.dirname(os.path.realpath(script))
        sys.argv = [script, *launch.args[1:]]
    # The launcher dropped every finder of a user folder and reads user code from source
    # (read_user_code_fresh): the folders added here get their finders made anew too.
    sys.path[:] = [first, *listed, *(p for p in base_path if p not in listed)]


def _dispatch(launch: Launch) -> int:
    if launch.kind is LaunchKind.TASK:
        # The launcher dropped its privileges; a fork keeps them dropped.
        run_folder(Path(launch.args[0]), privileges_dropped=True)
        return 0
    imported_before = "flytekit" in sys.modules
    from plugins.builtin import flytekit_entry  # noqa: PLC0415 - flytekit is optional

    return flytekit_entry.run(launch.args, imported_before=imported_before)


def _exit(code: int) -> NoReturn:
    # As an interpreter ends: wait for the threads it must wait for, run the exit
    # functions, flush; but never unwind into the launcher's loop this process began in.
    with contextlib.suppress(BaseException):
        for thread in threading.enumerate():
            if not thread.daemon and thread is not threading.current_thread():
                thread.join()
    with contextlib.suppress(BaseException):
        atexit._run_exitfuncs()
    with contextlib.suppress(BaseException):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def serve(channel: int, launcher_pid: int, base_path: Sequence[str]) -> NoReturn:
    """Get ready, wait for a run on ``channel``, run it, and exit with its status.

    The launcher forks this process ahead, as a spare, so a run does not wait for the
    fork; it never returns.

    Args:
        channel: The socket the launcher sends the run's launch pipe and log on.
        launcher_pid: The launcher, this process's parent.
        base_path: The launcher's import path without its ``PYTHONPATH`` entries.
    """
    code = 1
    try:
        _detach(channel, launcher_pid)
        request_fd = _receive(channel)
        launch = Launch.read(request_fd)
        # A bare thread: threading's would wait for it to start, and this runs per task.
        _thread.start_new_thread(_watch_worker, (request_fd,))
        _become(launch, base_path)
        code = _dispatch(launch)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    _exit(code)
