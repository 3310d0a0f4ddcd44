"""What submit checks before anything is stored: the template, the inputs, and their types.

Every problem is an :class:`~plugins.errors.InvalidSubmissionError` naming the field, so
a bad submission never becomes an execution that fails later for a misleading reason
(an oversized ``task.pb`` the workers refuse to read, a timeout too large to add to a
date, a value of the wrong type that the plugin trips over).

Input values are checked against the template's interface as FlytePropeller checks a
launch: by name, and each literal against its declared :class:`LiteralType`, through
collections, maps and unions. An integer is accepted where a float is declared (it
converts without loss); types this check does not know are accepted as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta

from flyteidl.core import literals_pb2, tasks_pb2, types_pb2

from plugins.errors import InvalidSubmissionError

__all__ = ["MAX_RETRIES", "MAX_TIMEOUT", "check_inputs", "check_template", "normalize_inputs"]

MAX_RETRIES = 100
"""The most user retries a template may ask for."""

MAX_TIMEOUT = timedelta(days=30)
"""The longest attempt timeout a template may ask for."""

_SIMPLE: dict[int, tuple[str, ...]] = {
    types_pb2.NONE: ("none_type",),
    types_pb2.INTEGER: ("integer",),
    types_pb2.FLOAT: ("float_value", "integer"),
    types_pb2.STRING: ("string_value",),
    types_pb2.BOOLEAN: ("boolean",),
    types_pb2.DATETIME: ("datetime",),
    types_pb2.DURATION: ("duration",),
    types_pb2.BINARY: ("binary",),
    types_pb2.ERROR: ("error",),
    types_pb2.STRUCT: ("generic", "binary"),
}


def check_template(template: tasks_pb2.TaskTemplate, max_bytes: int) -> None:
    """Refuse a template no worker could run as asked.

    Raises:
        InvalidSubmissionError: No task type, larger than ``max_bytes``, too many
            retries, or a negative or too long timeout.
    """
    if not template.type:
        raise InvalidSubmissionError("task template has no task type (TaskTemplate.type is empty)")
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
        problem = _type_problem(values.literals[name], declared[name].type, repr(name))
        if problem:
            problems.append(problem)
    if problems:
        raise InvalidSubmissionError(
            f"task {template.id.name or template.type!r}: " + "; ".join(problems)
        )


def _kind(literal: literals_pb2.Literal) -> str:
    which = literal.WhichOneof("value") or "nothing"
    if which != "scalar":
        return which
    scalar = literal.scalar.WhichOneof("value") or "nothing"
    if scalar == "primitive":
        return literal.scalar.primitive.WhichOneof("value") or "nothing"
    return scalar


Check = Callable[[literals_pb2.Literal, types_pb2.LiteralType, str, str], str]


def _type_problem(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, where: str) -> str:
    which = lt.WhichOneof("type")
    kind = _kind(literal)
    if which is None or kind == "offloaded_metadata":
        return ""  # nothing declared, or nothing here to look at
    check = _CHECKS.get(which)
    return "" if check is None else check(literal, lt, kind, where)


def _simple(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    expected = _SIMPLE.get(lt.simple, ())
    if not expected or kind in expected:
        return ""
    return f"input {where}: expected {types_pb2.SimpleType.Name(lt.simple)}, got {kind}"


def _collection(
    literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str
) -> str:
    if kind != "collection":
        return f"input {where}: expected a collection, got {kind}"
    for i, item in enumerate(literal.collection.literals):
        problem = _type_problem(item, lt.collection_type, f"{where}[{i}]")
        if problem:
            return problem
    return ""


def _map(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    if kind != "map":
        return f"input {where}: expected a map, got {kind}"
    for key, item in literal.map.literals.items():
        problem = _type_problem(item, lt.map_value_type, f"{where}[{key!r}]")
        if problem:
            return problem
    return ""


def _union(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    variants = lt.union_type.variants
    if kind == "union" or any(not _type_problem(literal, v, where) for v in variants):
        return ""
    return f"input {where}: {kind} fits none of the union's variants"


def _enum(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    values = list(lt.enum_type.values)
    if kind == "string_value" and (not values or literal.scalar.primitive.string_value in values):
        return ""
    return f"input {where}: expected one of {values}, got {kind}"


def _scalar(*expected: str) -> Check:
    def check(
        literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str
    ) -> str:
        del literal
        return (
            ""
            if kind in expected
            else f"input {where}: expected {lt.WhichOneof('type')}, got {kind}"
        )

    return check


_CHECKS: dict[str, Check] = {
    "simple": _simple,
    "collection_type": _collection,
    "map_value_type": _map,
    "union_type": _union,
    "enum_type": _enum,
    "blob": _scalar("blob"),
    "schema": _scalar("schema", "structured_dataset"),
    "structured_dataset_type": _scalar("structured_dataset", "schema"),
}
