"""A task's process forked by the launcher: first made the equal of a fresh one, then the run.

Right after the fork the process is a copy of the launcher. Before any user code runs:

- it leads a session and process group of its own (the worker kills the group on abort
  or timeout), dies with the launcher, and is dumpable again, as a fresh process is;
- it keeps no descriptor of the launcher's (no way to ask it for forks or to reach
  another run's channel): only the standard streams, which go to the run's log, and the
  pipe the worker wrote the :class:`~plugins.builtin.launching.Launch` into;
- its environment is replaced wholesale by the run's, and what was cached from the
  launcher's is dropped: the temporary folder, the time zone, the import path and the
  import system's finders; user modules are read from their source (see
  :mod:`plugins.tasks.sources`);
- it exits when the worker goes away (the pipe's end) as ``task_child`` does.

Then it runs the task as ``task_child`` would, or flytekit's entrypoint in this process.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from plugins.builtin import task_child
from plugins.builtin.launching import Launch, LaunchKind
from plugins.builtin.privileges import die_with_parent, unprotect_process
from plugins.builtin.task_child import ORPHAN_EXIT_CODE, orphaned, run_folder
from plugins.tasks.sources import read_user_code_fresh

__all__ = ["run"]


def _detach(request_fd: int, log_fd: int, launcher_pid: int) -> None:
    os.setsid()
    die_with_parent(signal.SIGKILL)
    if os.getppid() != launcher_pid:  # it ended before the line above took effect
        os._exit(ORPHAN_EXIT_CODE)
    signal.set_wakeup_fd(-1)
    for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    # Everything else goes: the launcher's control socket and other runs' channels too.
    os.closerange(3, request_fd)
    os.closerange(request_fd + 1, os.sysconf("SC_OPEN_MAX"))
    unprotect_process()


def _watch_worker(request_fd: int) -> None:
    # The worker holds the pipe's other end until the run is over: its end means the
    # worker stopped waiting or died (a SIGKILL leaves it no chance to kill this process).
    with contextlib.suppress(OSError):
        os.read(request_fd, 1)
        orphaned()


def _become(launch: Launch, base_path: Sequence[str]) -> None:
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
    sys.path[:] = [first, *listed, *(p for p in base_path if p not in listed)]
    read_user_code_fresh()
    importlib.invalidate_caches()


def _dispatch(launch: Launch) -> int:
    if launch.kind is LaunchKind.TASK:
        run_folder(Path(launch.args[0]))
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


def run(request_fd: int, log_fd: int, launcher_pid: int, base_path: Sequence[str]) -> NoReturn:
    """Become the run's process, run it, and exit with its status; never returns.

    Args:
        request_fd: The pipe holding the launch; its end means the worker is gone.
        log_fd: Where the process's output goes.
        launcher_pid: The launcher, this process's parent.
        base_path: The launcher's import path without its ``PYTHONPATH`` entries.
    """
    code = 1
    try:
        _detach(request_fd, log_fd, launcher_pid)
        launch = Launch.read(request_fd)
        threading.Thread(target=_watch_worker, args=(request_fd,), daemon=True).start()
        _become(launch, base_path)
        code = _dispatch(launch)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    _exit(code)
