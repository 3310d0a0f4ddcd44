"""flytekit's own ``python-task`` templates: ``pyflyte-execute`` in a process, as in a Flyte pod.

flytekit serializes a ``@task`` as a template of type ``python-task`` whose container
arguments run flytekit's entrypoint (``pyflyte-execute``, or ``pyflyte-fast-execute``
for a fast-registered task) with Propeller's template variables. A worker renders the
arguments and runs them from its own environment (the entrypoint is found beside the
worker's Python), in a fresh folder per attempt, the way a pod would:

- ``{{.input}}`` is a local copy of the inputs (remote File and Directory inputs
  downloaded), the output and raw-output prefixes are local folders, and the worker
  uploads what flytekit writes there, so the process needs no storage credentials;
- flytekit writes ``outputs.pb``, or ``error.pb`` (an ``ErrorDocument``): a
  ``RECOVERABLE`` error is retried within the task's retries, a ``NON_RECOVERABLE`` one
  is final (flytekit's semantics, kept for flytekit's tasks);
- a process that ends without either is a SYSTEM error with its exit status and the
  tail of its output;
- an abort or a timeout kills the process group at once;
- a fast-registered task's code tarball is downloaded by the worker too, and
  ``pyflyte-fast-execute`` unpacks it into the attempt's folder.

The process is forked by the worker process's task launcher, which has imported flytekit
already (with ``FLYTE_CELERY_TASK_LAUNCHER=spawn``, a fresh interpreter: ``exec_child``),
and runs the entrypoint in itself (``flytekit_entry``). It runs as the task user when one
is set, as ``@task`` processes do.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from flyteidl.core import errors_pb2, literals_pb2, tasks_pb2

from plugins.builtin.launching import Launch, LaunchKind
from plugins.builtin.staging import Staging, as_paths
from plugins.builtin.task_env import exit_description
from plugins.builtin.task_process import (
    CANCELLED_MESSAGE,
    RunRequest,
    TaskProcess,
    read_own,
    tail_of,
)
from plugins.core import ErrorKind, ExecutionError, Phase, PhaseInfo
from plugins.errors import OutputConversionError, TaskError

__all__ = [
    "ENTRYPOINTS",
    "FlytekitTaskRunner",
    "is_flytekit_template",
    "render_args",
]

ENTRYPOINTS = ("pyflyte-execute", "pyflyte-fast-execute", "pyflyte-map-execute")
"""flytekit's container entrypoints a worker runs."""

_VARIABLE = re.compile(r"\{\{\s*\.([A-Za-z0-9_.]+)\s*\}\}")


def is_flytekit_template(template: tasks_pb2.TaskTemplate) -> bool:
    """Whether the template is flytekit's (its container runs flytekit's entrypoint)."""
    if not template.HasField("container"):
        return False
    return any(arg in ENTRYPOINTS for arg in template.container.args[:1])


def _scalar_text(literal: literals_pb2.Literal) -> str:
    primitive = literal.scalar.primitive
    kind = primitive.WhichOneof("value")
    if kind is None:
        return ""
    if kind == "datetime":
        return primitive.datetime.ToJsonString()
    if kind == "duration":
        return primitive.duration.ToJsonString()
    return str(getattr(primitive, kind))


def render_args(
    args: list[str], values: Mapping[str, str], inputs: literals_pb2.LiteralMap
) -> list[str]:
    """Propeller's rendering of container arguments (its ``template.go``).

    Variables are matched case-insensitively, with spaces allowed inside the braces;
    ``{{.inputs.<name>}}`` is a primitive input's value. An unknown variable is left
    as it is, as Propeller leaves it.
    """
    lowered = {k.lower(): v for k, v in values.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        key = name.lower()
        if key.startswith("inputs."):
            literal = inputs.literals.get(name.split(".", 1)[1])
            return match.group(0) if literal is None else _scalar_text(literal)
        return lowered.get(key, match.group(0))

    return [_VARIABLE.sub(replace, arg) for arg in args]


def _local_distribution(args: list[str], staging: Staging) -> list[str]:
    """Download a fast-registered task's code tarball; the process gets its local path.

    ``pyflyte-fast-execute --additional-distribution <uri>`` would fetch it itself, with
    storage credentials the task's process does not have.

    Raises:
        StorageError: The download failed (a system problem, retried).
    """
    flag = "--additional-distribution"
    if flag not in args or args.index(flag) + 1 >= len(args):
        return args
    at = args.index(flag) + 1
    fetched = staging.download(args[at])
    if fetched == args[at]:
        return args  # already local: flytekit reads it itself
    return [*args[:at], fetched.removeprefix("file://"), *args[at + 1 :]]


def _entrypoint_path() -> str:
    # The entrypoint is installed beside the worker's Python, in the same environment.
    return os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def _error_info(document: errors_pb2.ErrorDocument) -> PhaseInfo:
    error = document.error
    recoverable = error.kind == errors_pb2.ContainerError.RECOVERABLE
    phase = Phase.RETRYABLE_FAILURE if recoverable else Phase.PERMANENT_FAILURE
    kind = ErrorKind.SYSTEM if int(error.origin) == int(ErrorKind.SYSTEM) else ErrorKind.USER
    return PhaseInfo.failed(phase, ExecutionError(error.code, error.message, kind=kind))


class FlytekitTaskRunner:
    """Runs flytekit templates; one instance serves a whole worker.

    Args:
        process: Builds the task's environment (the same isolation as ``@task`` runs).
    """

    def __init__(self, process: TaskProcess) -> None:
        self._process = process

    def run(self, request: RunRequest) -> tuple[PhaseInfo, literals_pb2.LiteralMap | None]:
        """Run the template's entrypoint; the PhaseInfo and, on success, the outputs."""
        folder = Path(tempfile.mkdtemp(prefix="flyte-celery-flytekit-"))
        try:
            return self._run(folder, request)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _run(
        self, folder: Path, request: RunRequest
    ) -> tuple[PhaseInfo, literals_pb2.LiteralMap | None]:
        template, inputs = request.template, request.inputs
        staging = Staging(request.store, folder, request.raw_output_prefix)
        staged_inputs, outputs, work, tmp = (folder / n for n in ("in", "out", "work", "tmp"))
        made = (staged_inputs, outputs, work, tmp, staging.local_raw, folder / "ckpt")
        for path in made:
            path.mkdir()
        self._process.own(folder, *made)
        staged = as_paths(staging.inputs(inputs))
        (staged_inputs / "inputs.pb").write_bytes(staged.SerializeToString())
        (folder / "task.pb").write_bytes(template.SerializeToString())
        values = {
            "input": str(staged_inputs / "inputs.pb"),
            "inputPrefix": str(staged_inputs),
            "outputPrefix": str(outputs),
            "rawOutputDataPrefix": str(staging.local_raw),
            "checkpointOutputPrefix": str(folder / "ckpt"),
            "prevCheckpointPrefix": '""',
            "PerRetryUniqueKey": request.generated_name,
            "Namespace": f"{request.project}-{request.domain}",
            "TaskTemplatePath": str(folder / "task.pb"),
        }
        args = render_args(list(template.container.args), values, inputs)
        args = _local_distribution(args, staging)
        env = self._process.environment(template, request.secrets, tmp)
        env.update({e.key: e.value for e in template.container.env})
        env.update(
            PATH=_entrypoint_path(),
            FLYTE_INTERNAL_EXECUTION_PROJECT=request.project,
            FLYTE_INTERNAL_EXECUTION_DOMAIN=request.domain,
            FLYTE_INTERNAL_EXECUTION_ID=request.name,
            FLYTE_INTERNAL_TASK_PROJECT=template.id.project,
            FLYTE_INTERNAL_TASK_DOMAIN=template.id.domain,
            FLYTE_INTERNAL_TASK_NAME=template.id.name,
            FLYTE_INTERNAL_TASK_VERSION=template.id.version,
            FLYTE_ATTEMPT_NUMBER=str(request.attempt),
        )
        log_path = folder / "output.log"
        launch = Launch(LaunchKind.FLYTEKIT, tuple(args), env, str(work))
        try:
            code = self._process.start(launch, log_path, request.cancelled)
        except TaskError as exc:
            return PhaseInfo.system_retryable_failure(exc.code, exc.message), None
        if code is None:
            return PhaseInfo.failure("Cancelled", CANCELLED_MESSAGE), None
        return _what_it_left(template, code, outputs, log_path, staging)


def _what_it_left(
    template: tasks_pb2.TaskTemplate,
    code: int,
    outputs: Path,
    log_path: Path,
    staging: Staging,
) -> tuple[PhaseInfo, literals_pb2.LiteralMap | None]:
    """The attempt's end from what flytekit's entrypoint left: an error, outputs, or neither."""
    error_file, outputs_file = outputs / "error.pb", outputs / "outputs.pb"
    if error_file.exists():
        document = errors_pb2.ErrorDocument.FromString(read_own(error_file))
        return _error_info(document), None
    if code == 0 and outputs_file.exists():
        written = literals_pb2.LiteralMap.FromString(read_own(outputs_file))
        try:
            return PhaseInfo.success(), staging.outputs(written)
        except OutputConversionError as exc:
            return PhaseInfo.failure(exc.code, exc.message), None
    if code == 0 and (outputs / "futures.pb").exists():
        # A @dynamic task returns a workflow for the platform to run, not outputs.
        return PhaseInfo.failure(
            "DynamicWorkflowUnsupported",
            f"task {template.id.name!r} is a @dynamic task: it returned a workflow to run "
            "(futures.pb) instead of outputs, and flyte-celery does not run dynamic "
            "workflows; make it a @task that computes its result itself",
        ), None
    message = f"flytekit's entrypoint {exit_description(code)} without outputs or an error"
    tail = tail_of(log_path)
    if tail:
        message += f"; its last output:\n{tail}"
    return PhaseInfo.system_retryable_failure("TaskProcessDied", message), None
