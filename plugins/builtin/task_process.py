"""Running a ``python-task`` in its own process, away from the worker's credentials.

The worker's environment holds its Redis URL, broker URL and storage options; user
code submitted by anyone must not read them. So each run gets a fresh Python
process with a minimal environment (a few harmless variables, the ones the
operator passes through, the task's own ``environment`` and its declared secrets)
and a private folder. The worker stages files in and out (see ``staging``), so the
task never needs storage credentials. The worker marks itself non-dumpable and
the task's process runs without privileges (see ``privileges``), so it cannot read
the worker's ``/proc/<pid>/environ`` either. ``FLYTE_CELERY_TASK_USER`` runs tasks
as another OS account (a root worker only), which also keeps the worker's files
out of their reach.

The process is killed when the job is cut off (a Celery time limit) or the worker
dies, and its folder is removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin.staging import Staging
from plugins.builtin.task_run import Outcome, Status, task_environment
from plugins.core import PhaseInfo
from plugins.core.secrets import EnvSecretManager, SecretManager, secret_key
from plugins.errors import ConfigError, SecretNotFoundError
from plugins.io import DataStore
from plugins.tasks.resolver import TASK_PATHS_VARIABLE

__all__ = [
    "BASE_VARIABLES",
    "CANCELLED_MESSAGE",
    "RunRequest",
    "TaskProcess",
    "TaskUser",
    "exit_description",
    "run_process",
    "tail_of",
    "task_user",
]

log = logging.getLogger("flyte_celery.task")

BASE_VARIABLES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL", "TZ")
"""Worker variables every task process gets: none of them is a credential."""

USER_VARIABLE = "FLYTE_CELERY_TASK_USER"

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


@dataclass(frozen=True)
class TaskUser:
    """The OS account task processes run as, when it differs from the worker's."""

    name: str
    uid: int
    gid: int
    home: str


def task_user(name: str | None) -> TaskUser | None:
    """The account to run tasks as; ``None`` (no ``name``) means the worker's own.

    Raises:
        ConfigError: ``name`` is not an account, switching to it needs root, or it
            cannot run the task process (e.g. cannot read the Python interpreter).
    """
    if not name or not hasattr(os, "geteuid"):
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(f"{USER_VARIABLE}={name!r}: no such user") from None
    if entry.pw_uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise ConfigError(
            f"{USER_VARIABLE}={name!r}: running tasks as another user needs a root worker"
        )
    user = TaskUser(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    probe = [sys.executable, "-c", "import plugins.builtin.task_child"]
    try:
        subprocess.run(
            probe,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": _import_path()},
            user=user.uid,
            group=user.gid,
            extra_groups=[],
            capture_output=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        reason = detail.decode("utf-8", "replace").strip().splitlines()[-1:] or [str(exc)]
        raise ConfigError(
            f"{USER_VARIABLE}={name!r}: that user cannot start a task process with "
            f"{sys.executable}: {reason[0]}"
        ) from None
    return user


def _import_path() -> str:
    # The worker's own import path minus the interpreter's (the child has that already),
    # so a module that imports in the worker imports in the task's process too.
    system = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    keep: list[str] = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.getcwd())
        inside = any(os.path.realpath(path).startswith(root + os.sep) for root in system)
        if not inside and path not in keep:
            keep.append(path)
    return os.pathsep.join(keep)


def exit_description(code: int) -> str:
    """``exited with code N`` or ``was killed by signal N``."""
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


class TaskProcess:
    """Runs templates in fresh processes; one instance serves a whole worker.

    Args:
        passthrough: Names of worker variables every task gets as well (e.g. proxies).
        task_paths: Folders a template may name a task file in (``FLYTE_CELERY_TASK_PATHS``).
        user: The account tasks run as; ``None`` for the worker's own.
    """

    def __init__(
        self,
        passthrough: Iterable[str] = (),
        task_paths: Iterable[str] = (),
        user: TaskUser | None = None,
    ) -> None:
        self._passthrough = tuple(passthrough)
        self._task_paths = os.pathsep.join(task_paths)
        self._user = user

    def environment(
        self, template: tasks_pb2.TaskTemplate, secrets: SecretManager, tmp: Path
    ) -> dict[str, str]:
        """The task's whole environment.

        Raises:
            SecretNotFoundError: A secret the template declares is not configured.
        """
        names = (*BASE_VARIABLES, *self._passthrough)
        env = {name: os.environ[name] for name in names if name in os.environ}
        env.update(
            PYTHONPATH=_import_path(),
            PYTHONUNBUFFERED="1",
            TMPDIR=str(tmp),
            **{TASK_PATHS_VARIABLE: self._task_paths or os.getcwd()},
        )
        if self._user is not None:
            home = self._user.home if os.path.isdir(self._user.home) else str(tmp)
            env.update(HOME=home, USER=self._user.name, LOGNAME=self._user.name)
        env.update(task_environment(template))
        exported = EnvSecretManager()
        for secret in template.security_context.secrets:
            key = secret_key(secret)
            env[exported.variable_name(key)] = secrets.get(key)
        return env

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
            if self._user is not None:
                for owned in (folder, folder / "tmp", staging.local_raw):
                    os.chown(owned, self._user.uid, self._user.gid)
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
            outputs = literals_pb2.LiteralMap.FromString((folder / "outputs.pb").read_bytes())
            return outcome.to_phase_info(), staging.outputs(outputs)
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
        args = [sys.executable, "-m", "plugins.builtin.task_child", str(folder), str(os.getpid())]
        code = run_process(args, env=env, log_path=output, user=self._user, cancelled=cancelled)
        tail = tail_of(output)
        if tail:
            log.info("task %s output:\n%s", execution_id, tail)
        if code is None:
            return Outcome(Status.FAILED, "Cancelled", CANCELLED_MESSAGE, permanent=True)
        try:
            return Outcome.from_json(json.loads((folder / "outcome.json").read_text()))
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
            user=None if user is None else user.uid,
            group=None if user is None else user.gid,
            extra_groups=None if user is None else [],
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


def tail_of(path: Path) -> str:
    """The last 64 KiB of a process's output, as text."""
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - _LOG_TAIL))
        text = fh.read().decode("utf-8", "replace")
    return text.strip()
