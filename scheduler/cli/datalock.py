"""One stack per data folder: a lock held for as long as the stack runs.

Two stacks on one folder would run two Redis servers on one append-only file, and the
second would empty the first's metrics folder. The lock is an advisory ``flock`` on
``<data folder>/lock``, which the kernel releases when the holder exits, however it
exits; the file says who holds it, for the refusal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import IO

from plugins.errors import ConfigError

__all__ = ["DataFolderLock"]


class DataFolderLock:
    """The lock on a stack's data folder.

    Args:
        folder: The data folder (made if missing).
        clock: The local time, written into the lock file for the refusal to show.
    """

    def __init__(self, folder: Path, clock: Callable[[], datetime] = datetime.now) -> None:
        self.path = folder / "lock"
        self._clock = clock
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or refuse at once.

        Raises:
            ConfigError: Another stack holds it; the message names it and the folder.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"data folder {self.path.parent} is in use by another stack ({holder}); "
                "stop it, or give this one its own --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        started = self._clock().astimezone().isoformat(timespec="seconds")
        command = " ".join(["flyte-celery", *sys.argv[1:2]])
        handle.write(f"{command}, pid {os.getpid()}, since {started}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Give the lock up (closing the file does), and say no one holds it."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.truncate(0)
        self._file.close()
        self._file = None
