"""Built-in plugins, registered through the ``flyte_celery.plugins`` entry points.

- ``echo`` (sync): its outputs are its inputs; :class:`EchoTask` makes such tasks.
- ``core-sleep`` (async): completes after its ``duration`` input, so tasks made by
  ``flytekitplugins-sleep`` run unchanged; :class:`SleepTask` makes such tasks.
- ``python-task`` (sync): runs ``@task`` functions, each run in its own process
  without the worker's credentials (:class:`TaskIsolation`), forked by a launcher that
  has imported the task runtime or spawned afresh (:class:`TaskLauncher`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from plugins.exports import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from plugins.builtin.echo import ECHO, EchoPlugin, EchoTask
    from plugins.builtin.launching import TaskLauncher
    from plugins.builtin.python_task import PYTHON_TASK, PythonTaskPlugin, TaskIsolation
    from plugins.builtin.sleep import SLEEP, SleepHandle, SleepPlugin, SleepTask

__all__ = [
    "ECHO",
    "PYTHON_TASK",
    "SLEEP",
    "EchoPlugin",
    "EchoTask",
    "PythonTaskPlugin",
    "SleepHandle",
    "SleepPlugin",
    "SleepTask",
    "TaskIsolation",
    "TaskLauncher",
]

_EXPORTS = {
    "plugins.builtin.echo": ("ECHO", "EchoPlugin", "EchoTask"),
    "plugins.builtin.launching": ("TaskLauncher",),
    "plugins.builtin.python_task": ("PYTHON_TASK", "PythonTaskPlugin", "TaskIsolation"),
    "plugins.builtin.sleep": ("SLEEP", "SleepHandle", "SleepPlugin", "SleepTask"),
}

__getattr__ = _lazy_exports(__name__, _EXPORTS)
