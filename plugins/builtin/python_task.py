"""``python-task``: runs ``@task`` functions (and other resolvable Python tasks).

The template's ``custom`` names a task resolver and its ``loader_args``; the
plugin loads the task, converts ``inputs.pb`` to Python values, runs the task
through ``dispatch_execute`` and writes ``outputs.pb``. An exception in user code
is a USER error carrying the traceback; it consumes one of the task's retries.

Where the code runs is the operator's choice (``FLYTE_CELERY_TASK_ISOLATION``):

- ``process`` (the default): a process of its own per run, without the worker's
  credentials; it sees only its declared secrets (see ``task_process``). A launcher
  that has imported the task runtime forks it (``FLYTE_CELERY_TASK_LAUNCHER=fork``, the
  default), or it is a fresh interpreter (``spawn``).
- ``none``: inside the worker process, which saves a fork but lets the task read
  everything the worker can. For one trusted team.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Mapping

from plugins.builtin.flytekit_task import FlytekitTaskRunner, is_flytekit_template
from plugins.builtin.launcher_client import wanted
from plugins.builtin.launching import TaskLauncher, preloaded_modules, task_launcher
from plugins.builtin.task_env import USER_VARIABLE, TaskUser, enum_setting, task_user
from plugins.builtin.task_process import RunRequest, TaskProcess
from plugins.builtin.task_run import Status, load_task_from_template, run_task, task_environment
from plugins.core import PhaseInfo
from plugins.errors import ConfigError
from plugins.io import InMemoryOutputReader
from plugins.tasks.context import ExecutionParameters
from plugins.tasks.function import PYTHON_TASK_TYPE
from plugins.tasks.resolver import TASK_PATHS_VARIABLE
from plugins.tasks.types import TransformContext
from plugins.webapi import PluginEntry, SyncPlugin, TaskExecutionContext

__all__ = [
    "PYTHON_TASK",
    "PythonTaskPlugin",
    "TaskIsolation",
    "load_task_from_template",
    "task_isolation",
]

ISOLATION_VARIABLE = "FLYTE_CELERY_TASK_ISOLATION"
PASSTHROUGH_VARIABLE = "FLYTE_CELERY_TASK_ENV"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TaskIsolation(enum.Enum):
    """Where a ``python-task`` runs."""

    PROCESS = "process"
    """In a fresh process per run, without the worker's credentials."""
    NONE = "none"
    """In the worker process itself."""


def task_isolation(environ: Mapping[str, str] | None = None) -> TaskIsolation:
    """The isolation ``FLYTE_CELERY_TASK_ISOLATION`` asks for (``process`` by default).

    Raises:
        ConfigError: The value is neither ``process`` nor ``none``.
    """
    return enum_setting(ISOLATION_VARIABLE, TaskIsolation, TaskIsolation.PROCESS, environ)


def _passthrough(environ: Mapping[str, str]) -> list[str]:
    names = [n.strip() for n in environ.get(PASSTHROUGH_VARIABLE, "").split(",") if n.strip()]
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ConfigError(f"{PASSTHROUGH_VARIABLE}: not variable names: {', '.join(bad)}")
    return names


class PythonTaskPlugin(SyncPlugin):
    """Runs a Python task's ``dispatch_execute``, in its own process or in the worker.

    Args:
        isolation: Where tasks run.
        passthrough: Worker variables every task process gets as well.
        user: The account task processes run as; ``None`` for the worker's own.
        launcher: How task processes start: forked by a launcher, or spawned.
        preload: Installed packages a launcher imports ahead of the runs.
    """

    def __init__(
        self,
        isolation: TaskIsolation = TaskIsolation.PROCESS,
        passthrough: list[str] | None = None,
        user: TaskUser | None = None,
        launcher: TaskLauncher = TaskLauncher.FORK,
        preload: tuple[str, ...] = (),
    ) -> None:
        super().__init__()
        self.isolation = isolation
        paths = [p for p in os.environ.get(TASK_PATHS_VARIABLE, "").split(os.pathsep) if p]
        absolute = [os.path.abspath(p) for p in paths]
        self._process = TaskProcess(passthrough or [], absolute, user, launcher, preload)
        self._flytekit = FlytekitTaskRunner(self._process)
        if isolation is TaskIsolation.PROCESS and launcher is TaskLauncher.FORK:
            wanted(user, preload)  # a worker's pool processes start it as they start

    @classmethod
    def from_environment(cls) -> PythonTaskPlugin:
        """The plugin as the ``FLYTE_CELERY_TASK_*`` variables say.

        Raises:
            ConfigError: A value is malformed; only ``python-task`` executions fail then.
        """
        isolation = task_isolation()
        launcher = task_launcher()
        user = (
            task_user(os.environ.get(USER_VARIABLE)) if isolation is TaskIsolation.PROCESS else None
        )
        preload = preloaded_modules() if launcher is TaskLauncher.FORK else ()
        return cls(isolation, _passthrough(os.environ), user, launcher, preload)

    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        """Run the task and write its outputs; failures become PhaseInfos."""
        template = ctx.task_reader.read()
        tid = ctx.task_execution_metadata.task_execution_id
        node = tid.id.node_execution_id.execution_id
        # Outside any handler: an unreadable inputs.pb is a storage problem, not the user's
        # code, and the step reports it like any plugin error.
        inputs = ctx.input_reader.get()
        raw_prefix = ctx.output_writer.get_raw_output_prefix()
        if is_flytekit_template(template) or self.isolation is TaskIsolation.PROCESS:
            request = RunRequest(
                template=template,
                inputs=inputs,
                store=ctx.data_store,
                raw_output_prefix=raw_prefix,
                secrets=ctx.secret_manager,
                project=node.project,
                domain=node.domain,
                name=node.name,
                attempt=tid.id.retry_attempt,
                generated_name=tid.generated_name,
                cancelled=ctx.cancelled,
            )
            # flytekit's own template runs its entrypoint in a process, whatever the isolation.
            flytekit = is_flytekit_template(template)
            runner: FlytekitTaskRunner | TaskProcess = self._flytekit if flytekit else self._process
            info, outputs = runner.run(request)
            if outputs is not None:
                ctx.output_writer.put(InMemoryOutputReader(outputs))
            return info
        params = ExecutionParameters(
            transform=TransformContext(store=ctx.data_store, raw_output_prefix=raw_prefix),
            execution_id=f"{node.project}/{node.domain}/{node.name}",
            attempt=tid.id.retry_attempt,
            secrets=ctx.secret_manager,
            is_local=False,
        )
        outcome, outputs = run_task(template, params, inputs, task_environment(template))
        if outcome.status is Status.SUCCEEDED:
            ctx.output_writer.put(InMemoryOutputReader(outputs))
        return outcome.to_phase_info()


PYTHON_TASK = PluginEntry(
    id=PYTHON_TASK_TYPE,
    supported_task_types=[PYTHON_TASK_TYPE],
    plugin_loader=PythonTaskPlugin.from_environment,
)
