"""``core-sleep``: an async plugin that completes after its ``duration`` input.

Tasks made by ``flytekitplugins-sleep`` (task type ``core-sleep``, one ``duration``
input of type ``timedelta``) run unchanged. The wake-up time is fixed at Create,
so polling, restarts and redelivered Gets do not extend the sleep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from plugins.core import PhaseInfo, TaskInfo
from plugins.tasks.base import PythonTask
from plugins.tasks.interface import Interface, kwtypes, transform_interface_to_typed_interface
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)

__all__ = ["SLEEP", "SleepHandle", "SleepPlugin", "SleepTask"]

_CACHING = PluginConfig.model_validate({"caching": {"resyncInterval": "5s"}}).caching


@dataclass(frozen=True)
class SleepHandle:
    """When the sleep started and when it ends."""

    started_at: datetime
    wake_at: datetime


class SleepPlugin(AsyncPlugin[SleepHandle, bool]):
    """Sleeps in the backend: no worker is busy while it waits."""

    def get_config(self) -> PluginConfig:
        """Resync every 5 s (Flyte's minimum), and encode the handle as a SleepHandle."""
        return PluginConfig(caching=_CACHING, resource_meta=SleepHandle)

    def create(self, ctx: TaskExecutionContextReader) -> tuple[SleepHandle, bool | None]:
        """Fix the wake-up time from the ``duration`` input.

        Raises:
            ValueError: ``duration`` is missing, not a duration, or negative.
        """
        inputs = ctx.input_reader.get()
        if "duration" not in inputs.literals:
            raise ValueError("core-sleep needs a 'duration' input (a timedelta)")
        literal = inputs.literals["duration"]
        if literal.scalar.primitive.WhichOneof("value") != "duration":
            raise ValueError("core-sleep input 'duration' must be a duration (timedelta)")
        duration = literal.scalar.primitive.duration.ToTimedelta()
        if duration < timedelta(0):
            raise ValueError(f"core-sleep duration must not be negative, got {duration}")
        now = datetime.now(UTC)
        handle = SleepHandle(started_at=now, wake_at=now + duration)
        return handle, (True if duration == timedelta(0) else None)

    def get(self, ctx: GetContext[SleepHandle]) -> bool:
        """Whether the wake-up time has passed."""
        return datetime.now(UTC) >= ctx.resource_meta.wake_at

    def delete(self, ctx: DeleteContext[SleepHandle]) -> None:
        """Nothing to stop: the sleep exists only as its handle."""
        del ctx

    def status(self, ctx: StatusContext[SleepHandle, bool]) -> PhaseInfo:
        """SUCCESS once awake, else RUNNING with the wake-up time."""
        if ctx.resource:
            return PhaseInfo.success()
        wake = ctx.resource_meta.wake_at.isoformat()
        return PhaseInfo.running(1, TaskInfo(custom_info={"wake_at": wake}))


SLEEP_INTERFACE = Interface(inputs=kwtypes(duration=timedelta))
"""What every ``core-sleep`` task takes: one ``duration``, no outputs."""

SLEEP = PluginEntry(
    id="core-sleep",
    supported_task_types=["core-sleep"],
    plugin_loader=SleepPlugin,
    task_interface=transform_interface_to_typed_interface(SLEEP_INTERFACE),
)


class SleepTask(PythonTask[None]):
    """A task of type ``core-sleep``: one ``duration`` input, no outputs.

    Remotely no worker is busy while it sleeps. Called locally, it sleeps here.

    Args:
        name: The task's name.
        **kwargs: Passed to :class:`~plugins.tasks.PythonTask` (``metadata``...).
    """

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(
            task_type="core-sleep",
            name=name,
            interface=SLEEP_INTERFACE,
            **kwargs,
        )

    def execute(self, **kwargs: Any) -> None:
        """Locally, sleep for ``duration``."""
        duration: timedelta = kwargs["duration"]
        if duration < timedelta(0):
            raise ValueError(f"core-sleep duration must not be negative, got {duration}")
        time.sleep(duration.total_seconds())
