"""``@task``: Python functions as tasks of type ``python-task``, run by the workers.

The decorated function becomes a :class:`PythonFunctionTask`. Its template names
a task resolver and the resolver's ``loader_args``, so a worker imports the
function again and runs it through ``dispatch_execute``; retries, the timeout and
the result cache are the scheduler's, as for every task type.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, overload

from plugins.tasks.base import Documentation, PythonTask, SerializationSettings
from plugins.tasks.interface import transform_function_to_interface
from plugins.tasks.metadata import TaskMetadata
from plugins.tasks.resolver import TaskResolverMixin, default_task_resolver, function_module
from plugins.tasks.security import Secret, security_context

__all__ = ["PYTHON_TASK_TYPE", "PythonFunctionTask", "task"]

PYTHON_TASK_TYPE = "python-task"
"""The task type of ``@task`` functions (flytekit's)."""

F = TypeVar("F", bound=Callable[..., Any])


def _task_name(fn: Callable[..., Any]) -> str:
    module, _ = function_module(fn)
    return f"{module}.{fn.__qualname__}".replace(".<locals>.", ".")


class PythonFunctionTask(PythonTask[Any]):
    """A Python function run as a task.

    Args:
        task_config: Plugin configuration (unused by ``python-task``; kept for subclasses).
        task_function: The function; its annotations are the interface.
        task_type: The task type; ``python-task`` unless a plugin changes it.
        task_resolver: Finds the function again in the worker.
        name: The task's name; ``module.qualname`` by default.
        **kwargs: Passed to :class:`PythonTask` (``metadata``, ``environment``, ``docs``...).
    """

    def __init__(
        self,
        task_config: Any,
        task_function: Callable[..., Any],
        task_type: str = PYTHON_TASK_TYPE,
        task_resolver: TaskResolverMixin | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not callable(task_function):
            raise TypeError(f"@task needs a function, got {type(task_function).__name__}")
        name = name or _task_name(task_function)
        interface = transform_function_to_interface(task_function, name)
        super().__init__(
            task_type=task_type,
            name=name,
            task_config=task_config,
            interface=interface,
            **kwargs,
        )
        self._task_function = task_function
        self._task_resolver = task_resolver or default_task_resolver
        functools.update_wrapper(self, task_function)

    @property
    def task_function(self) -> Callable[..., Any]:
        """The wrapped function."""
        return self._task_function

    @property
    def task_resolver(self) -> TaskResolverMixin:
        """The resolver a worker uses to load this task."""
        return self._task_resolver

    def execute(self, **kwargs: Any) -> Any:
        """Call the function."""
        return self._task_function(**kwargs)

    def get_custom(self, settings: SerializationSettings) -> dict[str, Any]:
        """The resolver, its ``loader_args`` and the environment, for the worker.

        Raises:
            TaskLoadError: The function cannot be found by a worker (e.g. it is nested).
        """
        return {
            "resolver": self._task_resolver.location,
            "loader_args": self._task_resolver.loader_args(settings, self),
            "environment": {**(settings.env or {}), **self.environment},
        }


@overload
def task(_task_function: F) -> PythonFunctionTask: ...


@overload
def task(
    _task_function: None = None,
    *,
    task_config: Any = None,
    cache: bool = False,
    cache_serialize: bool = False,
    cache_version: str = "",
    cache_ignore_input_vars: Iterable[str] = (),
    retries: int = 0,
    interruptible: bool | None = None,
    deprecated: str = "",
    timeout: dt.timedelta | int = 0,
    environment: Mapping[str, str] | None = None,
    task_resolver: TaskResolverMixin | None = None,
    docs: Documentation | None = None,
    pod_template_name: str | None = None,
    name: str | None = None,
    secret_requests: Sequence[Secret] = (),
) -> Callable[[F], PythonFunctionTask]: ...


def task(
    _task_function: Callable[..., Any] | None = None,
    *,
    task_config: Any = None,
    cache: bool = False,
    cache_serialize: bool = False,
    cache_version: str = "",
    cache_ignore_input_vars: Iterable[str] = (),
    retries: int = 0,
    interruptible: bool | None = None,
    deprecated: str = "",
    timeout: dt.timedelta | int = 0,
    environment: Mapping[str, str] | None = None,
    task_resolver: TaskResolverMixin | None = None,
    docs: Documentation | None = None,
    pod_template_name: str | None = None,
    name: str | None = None,
    secret_requests: Sequence[Secret] = (),
) -> PythonFunctionTask | Callable[[Callable[..., Any]], PythonFunctionTask]:
    """Make a function a task, with or without arguments: ``@task`` or ``@task(retries=2)``.

    Args:
        _task_function: The function, when used without parentheses.
        task_config: Plugin configuration (for plugins that reuse ``@task``).
        cache: Reuse results of earlier runs with the same inputs (needs ``cache_version``).
        cache_serialize: Identical concurrent runs wait for the first one's result.
        cache_version: Part of the cache key; bump it when the function changes.
        cache_ignore_input_vars: Inputs left out of the cache key.
        retries: Attempts allowed after a failed one.
        interruptible: The task tolerates pre-emption.
        deprecated: A message; using the task warns with it.
        timeout: The limit on one attempt (``timedelta`` or seconds; 0 means none).
        environment: Environment variables set while the function runs in a worker.
        task_resolver: A custom resolver (for tasks built by factories).
        docs: Documentation.
        pod_template_name: Carried in the metadata for pod-based plugins.
        name: The task's name; ``module.qualname`` by default.
        secret_requests: The secrets the function may read (and the only ones it can,
            when tasks run in their own process).

    Returns:
        A :class:`PythonFunctionTask`, or a decorator that makes one.

    Raises:
        TypeError: An input or output type is not supported (the message names it).
        ValueError: The metadata is inconsistent (e.g. ``cache`` without a version).
    """

    def wrapper(fn: Callable[..., Any]) -> PythonFunctionTask:
        metadata = TaskMetadata(
            cache=cache,
            cache_serialize=cache_serialize,
            cache_version=cache_version,
            cache_ignore_input_vars=tuple(cache_ignore_input_vars),
            interruptible=interruptible,
            deprecated=deprecated,
            retries=retries,
            timeout=timeout or None,
            pod_template_name=pod_template_name,
        )
        return PythonFunctionTask(
            task_config,
            fn,
            task_resolver=task_resolver,
            name=name,
            metadata=metadata,
            environment=environment,
            docs=docs,
            security_ctx=security_context(secret_requests),
        )

    if _task_function is not None:
        return wrapper(_task_function)
    return wrapper
