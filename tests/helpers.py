"""Test helpers: free ports, condition waits, a private redis-server.

The redis-server is the one :mod:`scheduler.testing` ships for plugin authors, so the
project's own tests exercise it too.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from scheduler.testing import RedisServer

__all__ = ["RedisServer", "free_port", "parent_pid", "process_ended", "start_redis", "wait_for"]

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    condition: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after a generous deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def _stat_fields(pid: int) -> list[str]:
    # /proc/<pid>/stat: "pid (command) state ppid ..."; the command may hold spaces.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def process_ended(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie nobody reaped yet has: it runs nothing)."""
    try:
        return _stat_fields(pid)[0] in ("Z", "X")
    except OSError:
        return True


def parent_pid(pid: int) -> int:
    """The parent of process ``pid``."""
    return int(_stat_fields(pid)[1])


def start_redis(directory: Path) -> RedisServer:
    """Start a private, diskless redis-server on a free loopback port (scheduler.testing's)."""
    return RedisServer.start(directory)
