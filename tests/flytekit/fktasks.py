"""flytekit tasks, written as a flytekit user writes them (workers import this module)."""

from __future__ import annotations

from flytekit import dynamic, task
from flytekit.exceptions.user import FlyteRecoverableException


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
