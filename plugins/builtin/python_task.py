"""``python-task``: runs ``@task`` functions (and other resolvable Python tasks) in the worker.

The template's ``custom`` names a task resolver and its ``loader_args``; the
plugin loads the task, converts ``inputs.pb`` to Python values, runs the task
through ``dispatch_execute`` and writes ``outputs.pb``. An exception in user code
is a USER error carrying the traceback; it consumes one of the task's retries.
The worker process survives: the exception is caught here.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from plugins.core import ErrorKind, ExecutionError, Phase, PhaseInfo
from plugins.errors import InputConversionError, OutputConversionError, TaskLoadError
from plugins.idl import struct_to_dict
from plugins.io import InMemoryOutputReader
from plugins.tasks.base import IgnoreOutputs, Task
from plugins.tasks.context import ExecutionParameters
from plugins.tasks.function import PYTHON_TASK_TYPE
from plugins.tasks.resolver import load_resolver
from plugins.tasks.types import TransformContext
from plugins.webapi import PluginEntry, SyncPlugin, TaskExecutionContext

__all__ = ["PYTHON_TASK", "PythonTaskPlugin", "load_task_from_template"]


def load_task_from_template(custom: Mapping[str, Any]) -> Task:
    """The task a ``python-task`` template's ``custom`` field names.

    Raises:
        TaskLoadError: ``custom`` lacks the resolver or its arguments, or loading fails.
    """
    resolver = custom.get("resolver")
    loader_args = custom.get("loader_args")
    if not isinstance(resolver, str) or not isinstance(loader_args, list):
        raise TaskLoadError(
            "a python-task template needs custom.resolver (a string) and "
            f"custom.loader_args (a list), got {sorted(custom)}"
        )
    return load_resolver(resolver).load_task([str(a) for a in loader_args])


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    # A prefork worker child runs one job at a time, so a process-wide change is safe;
    # it is undone afterwards so the next job starts clean.
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _user_failure(task_name: str, exc: BaseException) -> PhaseInfo:
    trace = "".join(traceback.format_exception(exc))
    message = f"Error encountered while executing '{task_name}':\n{trace}"
    code = f"USER:{type(exc).__name__}"
    err = ExecutionError(code=code, message=message, kind=ErrorKind.USER)
    return PhaseInfo.failed(Phase.RETRYABLE_FAILURE, err)


class PythonTaskPlugin(SyncPlugin):
    """Runs a Python task's ``dispatch_execute`` in the worker."""

    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        """Load the task, run it, write its outputs; failures become PhaseInfos."""
        template = ctx.task_reader.read()
        custom = struct_to_dict(template.custom) if template.HasField("custom") else {}
        try:
            task = load_task_from_template(custom)
        except TaskLoadError as exc:
            return PhaseInfo.failure(exc.code, exc.message)
        except Exception as exc:
            # Importing the user's module raised: a user error, with its traceback.
            return _user_failure(template.id.name or PYTHON_TASK_TYPE, exc)
        tid = ctx.task_execution_metadata.task_execution_id
        node = tid.id.node_execution_id.execution_id
        params = ExecutionParameters(
            transform=TransformContext(
                store=ctx.data_store, raw_output_prefix=ctx.output_writer.get_raw_output_prefix()
            ),
            execution_id=f"{node.project}/{node.domain}/{node.name}",
            attempt=tid.id.retry_attempt,
            task_name=task.name,
            secrets=ctx.secret_manager,
            is_local=False,
        )
        environment = custom.get("environment") or {}
        # Outside the try: an unreadable inputs.pb is a storage problem, not the user's code,
        # and the step reports it like any plugin error.
        inputs = ctx.input_reader.get()
        try:
            with _environment(environment if isinstance(environment, dict) else {}):
                outputs = task.dispatch_execute(params, inputs)
        except IgnoreOutputs:
            return PhaseInfo.success()
        except (InputConversionError, OutputConversionError) as exc:
            # Retrying cannot change what the values are: fail for good.
            return PhaseInfo.failure(exc.code, exc.message)
        except (Exception, SystemExit) as exc:
            # sys.exit() in a task fails the task, not the worker process.
            return _user_failure(task.name, exc)
        ctx.output_writer.put(InMemoryOutputReader(outputs))
        return PhaseInfo.success()


PYTHON_TASK = PluginEntry(
    id=PYTHON_TASK_TYPE, supported_task_types=[PYTHON_TASK_TYPE], plugin_loader=PythonTaskPlugin
)
