"""Running a ``python-task`` in its own process, away from the worker's credentials.

The worker's environment holds its Redis URL, broker URL and storage options; user
code submitted by anyone must not read them. So each run gets a process of its own
with a minimal environment (a few harmless variables, the ones the operator passes
through, the task's own ``environment`` and its declared secrets) and a private
folder. The worker stages files in and out (see ``staging``), so the task never needs
storage credentials. The worker marks itself non-dumpable and the task's process runs
without privileges (see ``privileges``), so it cannot read the worker's
``/proc/<pid>/environ`` either. ``FLYTE_CELERY_TASK_USER`` runs tasks as another OS
account (a root worker only), which also keeps the worker's files out of their reach.

The process is forked by the worker process's task launcher (``launcher``), which has
imported the task runtime already, or, with ``FLYTE_CELERY_TASK_LAUNCHER=spawn``, is a
fresh interpreter. Either way it is killed, with its process group, when the job is cut
off (a Celery time limit) or cancelled, or the worker dies, and its folder is removed
afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin.launcher_client import launcher_for
from plugins.builtin.launching import Launch, LaunchKind, TaskLauncher, launcher_preload
from plugins.builtin.staging import Staging
from plugins.builtin.task_env import TaskUser, base_environment, exit_description
from plugins.builtin.task_run import Outcome, Status, task_environment
from plugins.core import PhaseInfo
from plugins.core.secrets import EnvSecretManager, SecretManager, secret_key
from plugins.errors import OutputConversionError, SecretNotFoundError, TaskError
from plugins.io import DataStore
from plugins.tasks.resolver import TASK_PATHS_VARIABLE

__all__ = [
    "CANCELLED_MESSAGE",
    "RunRequest",
    "TaskProcess",
    "read_own",
    "run_process",
    "tail_of",
]

log = logging.getLogger("flyte_celery.task")

_LOG_TAIL = 64 * 1024
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RunRequest:
    """One run of a task, as a worker's plugin call sees it.

    Attributes:
        template: The task template.
        inputs: The input literals.
        store: The worker's store (its credentials stay in the worker).
        raw_output_prefix: Where the run's files belong in storage.
        secrets: Where declared secrets are looked up.
        project: The execution's project.
        domain: The execution's domain.
        name: The execution's name.
        attempt: The attempt, from 0.
        generated_name: The attempt's unique name.
        cancelled: Set when the attempt stops waiting for the run (abort, timeout).
    """

    template: tasks_pb2.TaskTemplate
    inputs: literals_pb2.LiteralMap
    store: DataStore
    raw_output_prefix: str
    secrets: SecretManager
    project: str
    domain: str
    name: str
    attempt: int
    generated_name: str
    cancelled: threading.Event | None = None

    @property
    def execution_id(self) -> str:
        """``project/domain/name``."""
        return f"{self.project}/{self.domain}/{self.name}"


class TaskProcess:
    """Runs templates in processes of their own; one instance serves a whole worker.

    Args:
        passthrough: Names of worker variables every task gets as well (e.g. proxies).
        task_paths: Folders a template may name a task file in (``FLYTE_CELERY_TASK_PATHS``).
        user: The account tasks run as; ``None`` for the worker's own.
        launcher: How their processes start: forked by a launcher, or spawned.
        preload: Installed packages a launcher imports ahead (``FLYTE_CELERY_TASK_PRELOAD``).
    """

    def __init__(
        self,
        passthrough: Iterable[str] = (),
        task_paths: Iterable[str] = (),
        user: TaskUser | None = None,
        launcher: TaskLauncher = TaskLauncher.FORK,
        preload: Iterable[str] = (),
    ) -> None:
        self._passthrough = tuple(passthrough)
        self._task_paths = os.pathsep.join(task_paths)
        self.user = user
        self.launcher = launcher
        self.preload = tuple(preload)

    def environment(
        self, template: tasks_pb2.TaskTemplate, secrets: SecretManager, tmp: Path
    ) -> dict[str, str]:
        """The task's whole environment.

        Raises:
            SecretNotFoundError: A secret the template declares is not configured.
        """
        env = {name: os.environ[name] for name in self._passthrough if name in os.environ}
        env.update(base_environment(self.user, str(tmp)))
        env[TASK_PATHS_VARIABLE] = self._task_paths or os.getcwd()
        env.update(task_environment(template))
        exported = EnvSecretManager()
        for secret in template.security_context.secrets:
            key = secret_key(secret)
            env[exported.variable_name(key)] = secrets.get(key)
        return env

    def own(self, *folders: Path) -> None:
        """Give ``folders`` to the task user, if tasks run as one."""
        if self.user is not None:
            for folder in folders:
                os.chown(folder, self.user.uid, self.user.gid)

    def start(
        self, launch: Launch, log_path: Path, cancelled: threading.Event | None
    ) -> int | None:
        """Run ``launch`` in a process of its own and wait for it.

        Returns:
            Its exit code (minus the signal that killed it), or ``None`` if ``cancelled``
            was set first.

        Raises:
            TaskError: The launcher could not serve it (code ``TaskLauncherFailed``).
        """
        if self.launcher is TaskLauncher.SPAWN:
            cwd = Path(launch.cwd) if launch.cwd else None
            args = launch.spawn_args()
            return run_process(
                args, env=launch.env, log_path=log_path, user=self.user, cancelled=cancelled,
                cwd=cwd,
            )  # fmt: skip
        launcher = launcher_for(self.user, launcher_preload(launch.kind, self.preload))
        return launcher.run(launch, log_path, cancelled)

    def run(self, request: RunRequest) -> tuple[PhaseInfo, literals_pb2.LiteralMap | None]:
        """Run the template's task in its own process.

        Returns:
            The PhaseInfo and, on success, the outputs to write (``None`` otherwise).

        Raises:
            StorageError: Staging a file in or out failed (a system problem, retried).
        """
        folder = Path(tempfile.mkdtemp(prefix="flyte-celery-task-"))
        try:
            staging = Staging(request.store, folder, request.raw_output_prefix)
            (folder / "tmp").mkdir()
            staging.local_raw.mkdir()
            self.own(folder, folder / "tmp", staging.local_raw)
            try:
                env = self.environment(request.template, request.secrets, folder / "tmp")
            except SecretNotFoundError as exc:
                return PhaseInfo.failure(exc.code, exc.message), None
            (folder / "task.pb").write_bytes(request.template.SerializeToString())
            staged = staging.inputs(request.inputs)
            (folder / "inputs.pb").write_bytes(staged.SerializeToString())
            context = {"execution_id": request.execution_id, "attempt": request.attempt}
            (folder / "context.json").write_text(json.dumps(context))
            outcome = self._spawn(folder, env, request.execution_id, request.cancelled)
            if outcome.status is not Status.SUCCEEDED:
                return outcome.to_phase_info(), None
            try:
                written = read_own(folder / "outputs.pb")
            except OSError as exc:
                message = f"the task's outputs could not be read: {exc}"
                return PhaseInfo.failure("TaskOutputsUnreadable", message), None
            try:
                outputs = staging.outputs(literals_pb2.LiteralMap.FromString(written))
            except OutputConversionError as exc:
                return PhaseInfo.failure(exc.code, exc.message), None
            return outcome.to_phase_info(), outputs
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _spawn(
        self,
        folder: Path,
        env: Mapping[str, str],
        execution_id: str,
        cancelled: threading.Event | None,
    ) -> Outcome:
        output = folder / "output.log"
        launch = Launch(LaunchKind.TASK, (str(folder),), env, os.getcwd())
        try:
            code = self.start(launch, output, cancelled)
        except TaskError as exc:
            return Outcome(Status.FAILED, exc.code, exc.message, permanent=False, user=False)
        tail = tail_of(output)
        if tail:
            log.info("task %s output:\n%s", execution_id, tail)
        if code is None:
            return Outcome(Status.FAILED, "Cancelled", CANCELLED_MESSAGE, permanent=True)
        try:
            return Outcome.from_json(json.loads(read_own(folder / "outcome.json")))
        except (OSError, ValueError):
            message = f"the task's process {exit_description(code)} before it reported a result"
            if tail:
                message += f"; its last output:\n{tail}"
            return Outcome(Status.FAILED, code="USER:TaskProcessDied", message=message)


CANCELLED_MESSAGE = "the attempt was aborted or timed out; its task process was stopped"


def run_process(
    args: list[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    user: TaskUser | None = None,
    cancelled: threading.Event | None = None,
    cwd: Path | None = None,
) -> int | None:
    """Run ``args`` in a process group of its own, its output to ``log_path``.

    The whole group is killed when the call ends, however it ends: cancelled, cut off by
    Celery's soft time limit (raised while waiting), or finished with helpers left running.

    Returns:
        The exit status, or ``None`` if ``cancelled`` was set first.
    """
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
            **({} if user is None else user.popen_options()),
        )
        try:
            while True:
                try:
                    return process.wait(timeout=_POLL_SECONDS)
                except subprocess.TimeoutExpired:
                    if cancelled is not None and cancelled.is_set():
                        return None
        finally:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def read_own(path: Path, tail: int | None = None) -> bytes:
    """A file the task's process wrote in its folder: only a regular file, never a link.

    The task may replace the file with a symbolic link to one it may not read, or with a
    pipe; the worker, which reads with its own rights, must follow neither.

    Args:
        path: The file.
        tail: Read only its last ``tail`` bytes.

    Raises:
        OSError: It is missing, a link, or not a regular file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        if tail is not None:
            fh.seek(max(0, info.st_size - tail))
        return fh.read()


def tail_of(path: Path) -> str:
    """The last 64 KiB of a process's output, as text ("" if it is not a regular file)."""
    try:
        return read_own(path, _LOG_TAIL).decode("utf-8", "replace").strip()
    except OSError:
        return ""
