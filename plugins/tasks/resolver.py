"""How a worker finds a Python task again: task resolvers (flytekit's ``TaskResolverMixin``).

A template of type ``python-task`` names a resolver (an importable object) and
its ``loader_args``. The worker imports the resolver and calls
``load_task(loader_args)``. The default resolver records the function's module
and qualified name, plus its source file: when the module does not import in the
worker (a script run as ``__main__``, a directory not on ``sys.path``), the file
is loaded directly, which is what a one-machine setup needs. Only files inside the
folders of ``FLYTE_CELERY_TASK_PATHS`` (the worker's working directory by default)
are loaded that way, so a template cannot make a worker run an arbitrary file.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

from plugins.errors import TaskLoadError
from plugins.tasks.base import Task
from plugins.tasks.sources import SourceOnlyLoader

if TYPE_CHECKING:
    from plugins.tasks.base import SerializationSettings

__all__ = [
    "TASK_PATHS_VARIABLE",
    "DefaultTaskResolver",
    "TaskResolverMixin",
    "allowed_task_file",
    "default_task_resolver",
    "load_resolver",
    "loading",
    "loading_task_code",
]

TASK_PATHS_VARIABLE = "FLYTE_CELERY_TASK_PATHS"
"""The folders (``os.pathsep``-separated) a template may name a task file in."""


class TaskResolverMixin(ABC):
    """Turns a task into ``loader_args`` and back.

    Subclass it for tasks that are not plain module-level functions (e.g. tasks
    built by a factory), and create the instance at module level so that
    :attr:`location` imports it.
    """

    @property
    def location(self) -> str:
        """``module.attribute`` of this resolver instance; must import in the worker."""
        module = type(self).__module__
        for name, value in vars(sys.modules[module]).items():
            if value is self:
                return f"{module}.{name}"
        raise TaskLoadError(
            f"resolver {self!r} is not a module-level attribute of {module}; "
            "create it at module level so a worker can import it"
        )

    @abstractmethod
    def name(self) -> str:
        """A name for logs."""

    @abstractmethod
    def load_task(self, loader_args: list[str]) -> Task:
        """The task that ``loader_args`` describe."""

    @abstractmethod
    def loader_args(self, settings: SerializationSettings, task: Task) -> list[str]:
        """What :meth:`load_task` needs to find ``task`` again."""

    def get_all_tasks(self) -> list[Task]:
        """Every task this resolver knows (optional)."""
        return []


_loading = threading.local()


@contextmanager
def loading_task_code() -> Iterator[None]:
    """Mark this thread as importing a task's code for a run (see :func:`loading`)."""
    before = loading()
    _loading.active = True
    try:
        yield
    finally:
        _loading.active = before  # a load within a load leaves the outer one marked


def loading() -> bool:
    """Whether this thread is importing a task's code for a run.

    A module that submits at import (no ``if __name__ == "__main__":`` guard) would
    submit again from every worker that imports it: a submission made now is refused.
    """
    return bool(getattr(_loading, "active", False))


def function_module(fn: Any) -> tuple[str, str | None]:
    """The module name a worker can load ``fn``'s module under, and its source file.

    A script run directly is ``__main__`` here; it gets its file's stem instead.
    """
    file = getattr(sys.modules.get(fn.__module__), "__file__", None)
    if fn.__module__ != "__main__" or not file:
        return fn.__module__, file
    return os.path.splitext(os.path.basename(file))[0], file


def allowed_task_file(file: str) -> str:
    """``file``'s real path, if a worker may load it as a task module.

    It must be a ``.py`` file inside one of the folders of ``FLYTE_CELERY_TASK_PATHS``
    (by default the working directory), after symbolic links are resolved.

    Raises:
        TaskLoadError: It may not be loaded; the message says why.
    """
    roots = [r for r in os.environ.get(TASK_PATHS_VARIABLE, "").split(os.pathsep) if r]
    real = os.path.realpath(file)
    if not real.endswith(".py") or not os.path.isfile(real):
        raise TaskLoadError(f"task file {file!r} is not an existing .py file")
    for root in roots or [os.getcwd()]:
        base = os.path.realpath(root)
        if os.path.commonpath([base, real]) == base:
            return real
    raise TaskLoadError(
        f"task file {file!r} is outside the folders a worker loads task files from "
        f"({TASK_PATHS_VARIABLE}={os.pathsep.join(roots) or os.getcwd()}); install its "
        "module in the worker or add its folder to that list"
    )


def _import(module: str, file: str | None) -> ModuleType:
    if not module.replace(".", "_").isidentifier():
        raise TaskLoadError(f"task module name {module!r} is not a Python module name")
    if module in sys.modules:
        return sys.modules[module]
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if not file or not os.path.exists(file):
            raise TaskLoadError(
                f"cannot import task module {module!r} ({exc}); it must be importable "
                "in the worker (install it or add it to PYTHONPATH)"
            ) from exc
    file = allowed_task_file(file)
    # From the source as it is now: a same-second edit must not run a stale .pyc.
    spec = importlib.util.spec_from_file_location(
        module, file, loader=SourceOnlyLoader(module, file)
    )
    if spec is None or spec.loader is None:
        raise TaskLoadError(f"cannot load task module {module!r} from {file}")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[module] = loaded
    try:
        spec.loader.exec_module(loaded)
    except BaseException:
        del sys.modules[module]
        raise
    return loaded


class DefaultTaskResolver(TaskResolverMixin):
    """Finds module-level ``@task`` functions by module, qualified name and file."""

    def name(self) -> str:
        """``DefaultTaskResolver``."""
        return "DefaultTaskResolver"

    def loader_args(self, settings: SerializationSettings, task: Task) -> list[str]:
        """``["task-module", m, "task-name", n, "task-file", f]``.

        Raises:
            TaskLoadError: The function is defined inside another function, or in code
                with no file, so no worker could find it.
        """
        del settings
        fn: Any = getattr(task, "task_function", None)
        if fn is None:
            raise TaskLoadError(f"{task!r} has no task_function; give it its own resolver")
        qualname = fn.__qualname__
        if "<locals>" in qualname:
            raise TaskLoadError(
                f"task {task.name!r} is defined inside a function ({qualname}); a worker "
                "cannot import it. Define it at module level to run it remotely."
            )
        module, file = function_module(fn)
        if fn.__module__ == "__main__" and not file:
            raise TaskLoadError(
                f"task {task.name!r} is defined in code with no file (python -c, a REPL or "
                "a notebook cell); a worker cannot import it. Define it in a .py file, or in "
                "an installed module, to run it remotely."
            )
        args = ["task-module", module, "task-name", qualname]
        if file:
            args += ["task-file", os.path.abspath(file)]
        return args

    def load_task(self, loader_args: list[str]) -> Task:
        """Import the module (or load its file) and return the named task.

        Raises:
            TaskLoadError: The arguments are malformed or the task is not found.
        """
        if len(loader_args) % 2:
            raise TaskLoadError(f"malformed loader_args {loader_args!r}")
        args = dict(zip(loader_args[::2], loader_args[1::2], strict=True))
        if "task-module" not in args or "task-name" not in args:
            raise TaskLoadError(f"loader_args need task-module and task-name: {loader_args!r}")
        obj: Any = _import(args["task-module"], args.get("task-file"))
        for part in args["task-name"].split("."):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                raise TaskLoadError(
                    f"module {args['task-module']!r} has no task {args['task-name']!r}"
                ) from None
        if not isinstance(obj, Task):
            raise TaskLoadError(
                f"{args['task-module']}.{args['task-name']} is a {type(obj).__name__}, "
                "not a task (did you forget @task?)"
            )
        return obj


default_task_resolver = DefaultTaskResolver()


def load_resolver(location: str) -> TaskResolverMixin:
    """Import the resolver at ``module.attribute``.

    Raises:
        TaskLoadError: It does not import or is not a resolver.
    """
    module, _, attr = location.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise TaskLoadError(f"cannot import task resolver {location!r}: {exc}") from exc
    if not isinstance(obj, TaskResolverMixin):
        raise TaskLoadError(f"{location!r} is a {type(obj).__name__}, not a task resolver")
    return obj
