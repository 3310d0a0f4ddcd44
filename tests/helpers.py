"""Test helpers: free ports, condition waits, a private redis-server, task templates.

The redis-server is the one :mod:`scheduler.testing` ships for plugin authors, so the
project's own tests exercise it too.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from flyteidl.core import interface_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from scheduler.testing import RedisServer

__all__ = [
    "FLOAT",
    "INTEGER",
    "STRING",
    "RedisServer",
    "free_port",
    "parent_pid",
    "process_ended",
    "start_redis",
    "task_template",
    "wait_for",
]

T = TypeVar("T")


INTEGER = types_pb2.LiteralType(simple=types_pb2.INTEGER)
FLOAT = types_pb2.LiteralType(simple=types_pb2.FLOAT)
STRING = types_pb2.LiteralType(simple=types_pb2.STRING)


def task_template(
    task_type: str,
    *,
    name: str = "",
    inputs: Mapping[str, types_pb2.LiteralType] | None = None,
    outputs: Mapping[str, types_pb2.LiteralType] | None = None,
    retries: int = 0,
    timeout: float | None = None,
    custom: Mapping[str, float] | None = None,
    cached: bool = False,
) -> tasks_pb2.TaskTemplate:
    """The tests' one template builder: a flyteidl ``TaskTemplate`` of ``task_type``.

    Args:
        task_type: Its task type.
        name: Its ``id.name`` (the task's name).
        inputs: Its declared inputs, by name.
        outputs: Its declared outputs, by name.
        retries: ``metadata.retries``.
        timeout: ``metadata.timeout``, in seconds.
        custom: Numbers in ``custom`` (what test plugins read, such as ``seconds``).
        cached: Whether the result cache applies (``discovery_version`` 1).
    """
    t = tasks_pb2.TaskTemplate(type=task_type)
    t.id.name = name
    t.metadata.retries.retries = retries
    if timeout is not None:
        t.metadata.timeout.FromTimedelta(timedelta(seconds=timeout))
    if custom:
        fields = {k: struct_pb2.Value(number_value=v) for k, v in custom.items()}
        t.custom.CopyFrom(struct_pb2.Struct(fields=fields))
    if cached:
        t.metadata.discoverable = True
        t.metadata.discovery_version = "1"
    for declared, variables in ((inputs, t.interface.inputs), (outputs, t.interface.outputs)):
        for var_name, literal_type in (declared or {}).items():
            variables.variables[var_name].CopyFrom(interface_pb2.Variable(type=literal_type))
    return t


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
