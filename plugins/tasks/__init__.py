"""The Python task API: typed tasks, ``@task``, the type engine (flytekit's base_task).

>>> from plugins.tasks import task
>>> @task(retries=2)
... def double(x: int) -> int:
...     return 2 * x
>>> double(x=21)
42

Submit a task with :meth:`scheduler.Client.submit` and read its result with
:meth:`scheduler.Execution.result`.
"""

from __future__ import annotations

from plugins.errors import ExecutionFailedError, TaskLoadError
from plugins.tasks.base import (
    Documentation,
    IgnoreOutputs,
    PythonTask,
    SerializationSettings,
    Task,
)
from plugins.tasks.context import ExecutionParameters, current_context
from plugins.tasks.function import PYTHON_TASK_TYPE, PythonFunctionTask, task
from plugins.tasks.interface import (
    Interface,
    kwtypes,
    transform_function_to_interface,
    transform_interface_to_typed_interface,
)
from plugins.tasks.metadata import TaskMetadata
from plugins.tasks.resolver import DefaultTaskResolver, TaskResolverMixin, default_task_resolver
from plugins.tasks.security import Secret
from plugins.tasks.types import (
    Directory,
    File,
    TransformContext,
    TypeEngine,
    TypeTransformer,
)

__all__ = [
    "PYTHON_TASK_TYPE",
    "DefaultTaskResolver",
    "Directory",
    "Documentation",
    "ExecutionFailedError",
    "ExecutionParameters",
    "File",
    "IgnoreOutputs",
    "Interface",
    "PythonFunctionTask",
    "PythonTask",
    "Secret",
    "SerializationSettings",
    "Task",
    "TaskLoadError",
    "TaskMetadata",
    "TaskResolverMixin",
    "TransformContext",
    "TypeEngine",
    "TypeTransformer",
    "current_context",
    "default_task_resolver",
    "kwtypes",
    "task",
    "transform_function_to_interface",
    "transform_interface_to_typed_interface",
]
