"""The Python-task benchmark's task (workers import this module)."""

from __future__ import annotations

from plugins.tasks import task


@task
def inc(x: int) -> int:
    """The smallest useful task: its cost is the platform's."""
    return x + 1
