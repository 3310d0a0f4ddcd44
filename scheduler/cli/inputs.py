"""What the CLI reads: typed inputs from ``name=[type:]value`` text, and task templates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flyteidl.admin import task_pb2
from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf.message import DecodeError

from plugins.errors import InvalidSubmissionError
from plugins.webapi import parse_duration

__all__ = ["parse_input", "read_template", "template_of_type"]


def parse_input(text: str) -> tuple[str, literals_pb2.Literal]:
    """Parse ``name=value`` or ``name=type:value`` into a flyteidl Literal.

    Types: ``int``, ``float``, ``bool``, ``str``, ``duration`` (``10s``, ``1m30s``),
    ``datetime`` (ISO 8601). Without a type: int, then float, then ``true``/``false``,
    else a string.

    Raises:
        ValueError: The text is malformed; the message says how.
    """
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise ValueError(f"input {text!r} must look like name=value or name=type:value")
    kind, colon, value = raw.partition(":")
    if not colon or kind not in ("int", "float", "bool", "str", "duration", "datetime"):
        kind, value = "", raw
    lit = literals_pb2.Literal()
    prim = lit.scalar.primitive
    try:
        if kind == "int" or (not kind and value.lstrip("-").isdigit()):
            prim.integer = int(value)
        elif kind == "float" or (not kind and _is_float(value)):
            prim.float_value = float(value)
        elif kind == "bool" or (not kind and value.lower() in ("true", "false")):
            if value.lower() not in ("true", "false"):
                raise ValueError("expected true or false")
            prim.boolean = value.lower() == "true"
        elif kind == "duration":
            prim.duration.FromTimedelta(parse_duration(value))
        elif kind == "datetime":
            prim.datetime.FromDatetime(datetime.fromisoformat(value).astimezone(UTC))
        else:
            prim.string_value = value
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"input {name!r}: cannot read {value!r} as {kind or 'a value'}: {exc}"
        ) from None
    return name, lit


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_template(path: Path) -> tasks_pb2.TaskTemplate:
    """The serialized flyteidl TaskTemplate in ``path``, or the template of an admin TaskSpec.

    ``pyflyte package`` writes each task as an admin ``TaskSpec`` (``<n>_<name>_1.pb`` in
    its archive); the bytes of one also parse as a TaskTemplate, with no type or an
    unprintable one (the spec's description), so such a file is read as a TaskSpec.

    Raises:
        InvalidSubmissionError: The file cannot be read or is neither.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidSubmissionError(f"cannot read the template file {path}: {exc}") from None
    template = tasks_pb2.TaskTemplate()
    spec = task_pb2.TaskSpec()
    try:
        template.ParseFromString(data)
    except DecodeError as exc:
        try:
            spec.ParseFromString(data)
        except DecodeError:
            raise InvalidSubmissionError(
                f"{path} is not a serialized flyteidl TaskTemplate or admin TaskSpec: {exc}"
            ) from None
        return spec.template
    if not template.type.isprintable() or not template.type:
        # A TaskSpec's fields land on a template's: its description on ``type``.
        try:
            spec.ParseFromString(data)
        except DecodeError:
            return template  # refused at submit for its type
        if spec.template.type.isprintable() and spec.template.type:
            return spec.template
    return template


def template_of_type(
    task_type: str, retries: int = 0, timeout: str | None = None
) -> tasks_pb2.TaskTemplate:
    """A template of ``task_type`` with user ``retries`` and an attempt ``timeout`` (``10m``).

    Raises:
        ValueError: ``timeout`` is not a duration.
    """
    template = tasks_pb2.TaskTemplate(type=task_type)
    if retries:
        template.metadata.retries.retries = retries
    if timeout:
        template.metadata.timeout.FromTimedelta(parse_duration(timeout))
    return template
