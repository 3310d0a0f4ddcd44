"""A submitted task and its inputs, as a template and a ``LiteralMap``: what gets stored.

The same conversion serves the Redis-backed client and the API's (:mod:`.remote`): a
flytekit task is serialized as ``pyflyte register`` does, a ``@task`` builds its template,
an admin ``TaskSpec`` gives its template and a flyteidl2 one is read as flyteidl 1; inputs
go through the task's own types, or the template's interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flyteidl.admin import task_pb2
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.errors import (
    FlyteCeleryError,
    InputConversionError,
    InvalidSubmissionError,
    StorageError,
    TaskLoadError,
)
from plugins.flyte2 import as_flyteidl1, is_flyteidl2
from plugins.flytekit.values import FlytekitTask, is_flytekit_entity, is_flytekit_task
from plugins.io import DataStore
from plugins.tasks import (
    ExecutionParameters,
    PythonTask,
    SerializationSettings,
    Task,
    TransformContext,
)
from scheduler._client.template_inputs import template_inputs
from scheduler._client.validation import check_template, normalize_inputs
from scheduler._model import describe

__all__ = ["blob_refs", "blob_uris", "literal_inputs", "no_uploads", "resolved", "template_of"]


def resolved(task: object) -> object:
    """What ``submit`` runs: a TaskSpec's template, flyteidl2 as flyteidl 1, flytekit's wrapped.

    Anything else comes back as it is.

    Raises:
        InvalidSubmissionError: A flyteidl2 message that is no template.
    """
    if isinstance(task, task_pb2.TaskSpec):
        return task.template
    if is_flyteidl2(task):
        try:
            return as_flyteidl1(task)
        except (TypeError, ValueError) as exc:
            raise InvalidSubmissionError(f"task: {exc}") from None
    if is_flytekit_task(task):
        return FlytekitTask(task)
    return task


def template_of(task: object, project: str, domain: str, max_bytes: int) -> tasks_pb2.TaskTemplate:
    """The task's template, checked.

    Raises:
        InvalidSubmissionError: It cannot be built, or is malformed.
    """
    task = resolved(task)
    if isinstance(task, FlytekitTask):
        template = task.template(project, domain)
    elif isinstance(task, Task):
        task.warn_if_deprecated()
        try:
            template = task.to_task_template(SerializationSettings(project=project, domain=domain))
        except TaskLoadError as exc:
            raise InvalidSubmissionError(exc.message) from None
        except FlyteCeleryError:
            raise
        except Exception as exc:  # a Task subclass's own hook raised
            raise InvalidSubmissionError(
                f"cannot build the template of task {task.name!r}: {describe(exc)}"
            ) from None
    elif isinstance(task, tasks_pb2.TaskTemplate):
        template = task
    elif is_flytekit_entity(task):
        raise InvalidSubmissionError(
            f"submit() runs tasks; flytekit's {type(task).__name__} is not one "
            "(workflows and launch plans are not supported: submit their tasks)"
        )
    else:
        raise InvalidSubmissionError(
            "submit() takes a Task (e.g. a @task function), a flytekit task, a flyteidl "
            f"core.TaskTemplate or an admin.TaskSpec, got {type(task).__name__}"
        )
    check_template(template, max_bytes)
    return template


def literal_inputs(
    task: object,
    template: tasks_pb2.TaskTemplate,
    inputs: object,
    *,
    exec_id: str,
    uploads: TransformContext,
    max_bytes: int,
) -> literals_pb2.LiteralMap:
    """The inputs as a ``LiteralMap``, converted by the task's own types or the template's.

    Args:
        task: The task, :func:`resolved`.
        template: Its template.
        inputs: As ``Client.submit`` takes them.
        exec_id: The execution's id (a ``@task``'s inputs see it).
        uploads: Where ``File`` and ``Directory`` inputs are uploaded.
        max_bytes: The largest value.

    Raises:
        InvalidSubmissionError: They do not convert.
    """
    if isinstance(task, FlytekitTask) and not isinstance(inputs, literals_pb2.LiteralMap):
        return normalize_inputs(task.inputs(inputs or {}, uploads.raw_output_prefix), max_bytes)
    if isinstance(task, PythonTask) and not isinstance(inputs, literals_pb2.LiteralMap):
        return _python_inputs(task, inputs or {}, exec_id, uploads, max_bytes)
    # Literals, flytekit's literal models, or Python values of the declared types.
    return normalize_inputs(template_inputs(template, inputs, uploads), max_bytes)


def _python_inputs(
    task: PythonTask[Any], inputs: object, exec_id: str, uploads: TransformContext, max_bytes: int
) -> literals_pb2.LiteralMap:
    if not isinstance(inputs, Mapping):
        raise InvalidSubmissionError(
            f"inputs of task {task.name!r} must be a dict of input name to Python value, "
            f"got {type(inputs).__name__}"
        )
    params = ExecutionParameters(
        transform=uploads, execution_id=exec_id, task_name=task.name, is_local=False
    )
    try:
        values = task.inputs_to_literal_map(params, task.bind_inputs(**inputs))
    except InputConversionError as exc:
        raise InvalidSubmissionError(exc.message) from None
    except StorageError:
        raise  # an upload failed: the storage error says where
    except (TypeError, ValueError) as exc:  # e.g. a name that is no keyword, an odd value
        raise InvalidSubmissionError(f"inputs of task {task.name!r}: {describe(exc)}") from None
    return normalize_inputs(values, max_bytes)


class _NoUploads(DataStore):
    """A store that refuses to read or write: nothing local goes through the API."""

    def filesystem(self, ref: str) -> tuple[Any, str]:
        raise InvalidSubmissionError(
            f"a File or Directory input ({ref}) is a path on the server: store the file first "
            "(POST /api/v1/uploads/<project>/<domain>, which Client.connect does for you) and "
            "pass the URI it returns"
        )


def no_uploads() -> TransformContext:
    """What converts inputs for the API: a ``File`` or ``Directory`` is refused, not uploaded."""
    return TransformContext(_NoUploads(), "api://uploads")


def blob_refs(literal_map: literals_pb2.LiteralMap) -> list[Any]:
    """The messages of the inputs that point at files, however deep: each has a ``uri``.

    Blobs (files, directories), datasets and offloaded literals.
    """
    found: list[Any] = []
    pending = list(literal_map.literals.values())
    while pending:
        literal = pending.pop()
        if literal.HasField("offloaded_metadata"):
            found.append(literal.offloaded_metadata)
        pending.extend(literal.collection.literals)
        pending.extend(literal.map.literals.values())
        scalar = literal.scalar
        if scalar.HasField("blob"):
            found.append(scalar.blob)
        if scalar.HasField("structured_dataset"):
            found.append(scalar.structured_dataset)
        if scalar.HasField("union"):
            pending.append(scalar.union.value)
    return found


def blob_uris(literal_map: literals_pb2.LiteralMap) -> list[str]:
    """Every URI the inputs point at (see :func:`blob_refs`)."""
    return [ref.uri for ref in blob_refs(literal_map)]
