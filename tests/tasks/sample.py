"""Module-level tasks used by the task tests (a worker must be able to import them)."""

from __future__ import annotations

import enum
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from plugins.tasks import File, IgnoreOutputs, current_context, task


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Point:
    x: int
    y: float
    label: str = ""


class Stats(NamedTuple):
    total: int
    mean: float


@task
def add(a: int, b: int = 2) -> int:
    """Add two numbers."""
    return a + b


@task(
    retries=3,
    timeout=timedelta(minutes=5),
    cache=True,
    cache_version="1.0",
    cache_serialize=True,
    cache_ignore_input_vars=("note",),
    interruptible=True,
)
def summarize(values: list[float], note: str = "") -> Stats:
    return Stats(total=int(sum(values)), mean=sum(values) / len(values) if values else 0.0)


@task
def pair(p: Point, color: Color) -> tuple[str, Point]:
    return f"{color.value}:{p.label}", Point(x=p.x + 1, y=p.y * 2, label=p.label)


@task
def nothing(flag: bool) -> None:
    if flag:
        raise IgnoreOutputs()


@task
def explode(message: str) -> int:
    raise ValueError(message)


@task
def write_file(text: str) -> File:
    fd, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return File(path)


@task
def read_file(f: File) -> str:
    with open(f, encoding="utf-8") as fh:
        return fh.read()


@task(deprecated="use add instead")
def old_add(a: int) -> int:
    return a + 1


@task
def whoami() -> str:
    ctx = current_context()
    return f"{ctx.execution_id}:{ctx.attempt}:{os.environ.get('SAMPLE_ENV', '')}"


@task(environment={"SAMPLE_ENV": "set"})
def with_env() -> str:
    return os.environ.get("SAMPLE_ENV", "")


@task(retries=3)
def flaky(succeed_on: int) -> int:
    attempt = current_context().attempt
    if attempt < succeed_on:
        raise RuntimeError(f"attempt {attempt} fails")
    return attempt


@task(timeout=1)
def overslept(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task(cache=True, cache_version="1", cache_serialize=True)
def counted(ledger: str, x: int) -> int:
    """Appends a line to ``ledger`` per call, so tests count real calls."""
    with open(ledger, "a", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n")
    return 2 * x


@task
def exits(code: int) -> int:
    raise SystemExit(code)


@task
def leaky() -> None:
    """Fails quoting a secret from the worker's environment, as careless code does."""
    raise RuntimeError(f"could not log in with token {os.environ['FLYTE_SECRETS_TEST_TOKEN']}")
