"""What submit checks before anything is stored: the template, the inputs, and their types.

Every problem is an :class:`~plugins.errors.InvalidSubmissionError` naming the field, so
a bad submission never becomes an execution that fails later for a misleading reason
(an oversized ``task.pb`` the workers refuse to read, a timeout too large to add to a
date, a value of the wrong type that the plugin trips over).

Input values are checked against the template's interface as FlytePropeller checks a
launch: by name, and each literal against its declared :class:`LiteralType`
(:mod:`plugins.io.literal_types`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.errors import InvalidSubmissionError
from plugins.io.literal_types import type_problem

__all__ = ["MAX_RETRIES", "MAX_TIMEOUT", "check_inputs", "check_template", "normalize_inputs"]

MAX_RETRIES = 100
"""The most user retries a template may ask for."""

MAX_TIMEOUT = timedelta(days=30)
"""The longest attempt timeout a template may ask for."""


def check_template(template: tasks_pb2.TaskTemplate, max_bytes: int) -> None:
    """Refuse a template no worker could run as asked.

    Raises:
        InvalidSubmissionError: No task type, larger than ``max_bytes``, too many
            retries, a negative or too long timeout, or a construct no plugin here
            runs as Flyte does (a flytekit ``map_task``).
    """
    if not template.type:
        raise InvalidSubmissionError("task template has no task type (TaskTemplate.type is empty)")
    if template.type == "container_array" or template.container.args[:1] == ["pyflyte-map-execute"]:
        # Flyte runs an array node once per element and gathers the outputs; run as one
        # task it would do one element and return the wrong type.
        raise InvalidSubmissionError(
            f"task {template.id.name or template.type!r} is a flytekit map_task (an array "
            "node), which flyte-celery does not run yet; submit the mapped task once per "
            "element instead"
        )
    size = template.ByteSize()
    if size > max_bytes:
        raise InvalidSubmissionError(
            f"task template is {size} bytes; workers read at most {max_bytes} "
            "(FLYTE_CELERY_MAX_DOWNLOAD_BYTES)"
        )
    retries = template.metadata.retries.retries
    if retries > MAX_RETRIES:
        raise InvalidSubmissionError(
            f"metadata.retries is {retries}; at most {MAX_RETRIES} retries are allowed"
        )
    if template.metadata.HasField("timeout"):
        timeout = template.metadata.timeout
        seconds = timeout.seconds + timeout.nanos / 1e9
        if seconds < 0:
            raise InvalidSubmissionError(f"metadata.timeout is negative ({seconds:g}s)")
        if seconds > MAX_TIMEOUT.total_seconds():
            raise InvalidSubmissionError(
                f"metadata.timeout is {seconds:g}s; at most {MAX_TIMEOUT.days} days are allowed"
            )


def normalize_inputs(inputs: object, max_bytes: int) -> literals_pb2.LiteralMap:
    """Inputs given as a ``LiteralMap``, a dict of flyteidl ``Literal``, or ``None``.

    Raises:
        InvalidSubmissionError: Anything else, a name that is not text, a value that is
            not a ``Literal``, or inputs larger than ``max_bytes``.
    """
    if inputs is None:
        result = literals_pb2.LiteralMap()
    elif isinstance(inputs, literals_pb2.LiteralMap):
        result = inputs
    elif isinstance(inputs, Mapping):
        result = literals_pb2.LiteralMap()
        for key, value in inputs.items():
            if not isinstance(key, str) or not key:
                raise InvalidSubmissionError(f"input names must be non-empty text, got {key!r}")
            if not isinstance(value, literals_pb2.Literal):
                raise InvalidSubmissionError(
                    f"input {key!r} must be a flyteidl core.Literal, got {type(value).__name__}"
                )
            try:
                result.literals[key].CopyFrom(value)
            except (TypeError, ValueError) as exc:  # e.g. a name that is not valid UTF-8
                raise InvalidSubmissionError(f"input name {key!r} is not valid: {exc}") from None
    else:
        raise InvalidSubmissionError(
            "inputs must be a dict of input name to flyteidl core.Literal (or a LiteralMap), "
            f"got {type(inputs).__name__}"
        )
    size = result.ByteSize()
    if size > max_bytes:
        raise InvalidSubmissionError(
            f"inputs are {size} bytes; workers read at most {max_bytes} "
            "(FLYTE_CELERY_MAX_DOWNLOAD_BYTES)"
        )
    return result


def check_inputs(template: tasks_pb2.TaskTemplate, values: literals_pb2.LiteralMap) -> None:
    """Check inputs against the template's interface, when it declares one.

    Raises:
        InvalidSubmissionError: Missing or undeclared inputs, or values of the wrong type;
            the message names each.
    """
    declared = template.interface.inputs.variables
    if not declared:
        return
    missing = sorted(set(declared) - set(values.literals))
    unknown = sorted(set(values.literals) - set(declared))
    problems = []
    if missing:
        problems.append(f"missing inputs: {', '.join(missing)}")
    if unknown:
        problems.append(f"inputs the task does not declare: {', '.join(unknown)}")
    for name in sorted(set(declared) & set(values.literals)):
        problem = type_problem(values.literals[name], declared[name].type, f"input {name!r}")
        if problem:
            problems.append(problem)
    if problems:
        raise InvalidSubmissionError(
            f"task {template.id.name or template.type!r}: " + "; ".join(problems)
        )
