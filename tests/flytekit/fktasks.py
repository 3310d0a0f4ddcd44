"""flytekit tasks, written as a flytekit user writes them (workers import this module)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import flytekit
from flytekit import StructuredDataset, dynamic, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile


@task
def double(x: int) -> int:
    return 2 * x


@task(cache=True, cache_version="1")
def greet(name: str) -> str:
    return f"hello {name}"


@task(retries=2)
def flaky(n: int) -> int:
    if n >= 0:
        raise FlyteRecoverableException(f"try again later ({n})")
    return n


@task(retries=2)
def broken(n: int) -> int:
    if n >= 0:
        raise ValueError(f"bad input {n}")
    return n


@task
def hold(marker: str) -> int:
    """Writes its process id to ``marker``, then runs for ten minutes."""
    import os
    import time

    with open(marker, "w", encoding="utf-8") as fh:
        fh.write(str(os.getpid()))
    time.sleep(600)
    return 0


def file_sensor() -> object:
    """flytekit's FileSensor: succeeds once its ``path`` input exists."""
    from flytekit.sensor.file_sensor import FileSensor

    return FileSensor(name="wait_for_file")


def webhook(url: str) -> object:
    """flytekit's WebhookTask posting ``{"x": <x>}`` to ``url``."""
    from flytekit.extras.webhook import WebhookTask

    return WebhookTask(
        name="notify", url=url, method="POST", data={"x": "{inputs.x}"}, dynamic_inputs={"x": int}
    )


def webhook_get(url: str) -> object:
    """flytekit's WebhookTask calling ``url`` with GET, without inputs."""
    from flytekit.extras.webhook import WebhookTask

    return WebhookTask(name="ping", url=url, method="GET")


@task
def surroundings() -> str:
    """Where flytekit put this run's working folder, its log level, and the process's parent."""
    import json
    import logging
    import os
    import tempfile

    import flytekit

    return json.dumps(
        {
            "working_directory": flytekit.current_context().working_directory,
            "tmp": tempfile.gettempdir(),
            "level": logging.getLogger("flytekit").level,
            "ppid": os.getppid(),
        }
    )


@task
def hold_with_helper(marker: str) -> int:
    """Starts a helper process in its group, writes both ids to ``marker``, then holds."""
    from tests.tasks.sample import start_helper_and_hold

    return start_helper_and_hold(marker)


@task
def whoami() -> int:
    """The account the task runs as."""
    import os

    return os.geteuid()


@dynamic
def doubles(n: int) -> list[int]:
    """A dynamic workflow: it returns a workflow of ``double`` calls, not outputs."""
    return [double(x=i) for i in range(n)]


@dataclass
class Point:
    x: float
    y: float


@task
def norm(p: Point, scale: float = 1.0) -> float:
    """A dataclass input (flytekit serializes it as a STRUCT with its schema)."""
    return scale * (p.x**2 + p.y**2) ** 0.5


@task
def pair(n: int) -> tuple[int, str]:
    return n + 1, f"n={n}"


@task
def dataset(rows: int) -> StructuredDataset:
    """A StructuredDataset output, written as a folder of (pretend) parquet files."""
    folder = Path(tempfile.mkdtemp())
    (folder / "00000").write_bytes(b"rows=%d" % rows)
    return StructuredDataset(uri=str(folder), file_format="parquet")


@workflow
def doubled_twice(x: int) -> int:
    return double(x=double(x=x))


@task
def shout(f: FlyteFile) -> FlyteFile:
    """Reads a file input and writes a file output."""
    out = Path(flytekit.current_context().working_directory) / "shouted.txt"
    out.write_text(Path(f.download()).read_text().upper())
    return FlyteFile(str(out))


@task
def listing(d: FlyteDirectory) -> tuple[list[str], FlyteDirectory]:
    """Lists a folder input and writes a folder output."""
    names = sorted(p.name for p in Path(d.download()).iterdir())
    out = Path(flytekit.current_context().working_directory) / "copy"
    out.mkdir()
    for name in names:
        (out / name).write_text(name)
    return names, FlyteDirectory(str(out))
