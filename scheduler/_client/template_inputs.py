"""Inputs of a submitted template: literals as they are, Python values through its interface.

A template (a flytekit task serialized with ``pyflyte register``'s tools, a connector's
template) declares its inputs' literal types. Its inputs may be given as flyteidl
literals, as flytekit's literal models (anything with ``to_flyte_idl()``), or as plain
Python values, which are converted to the declared type by our type engine (the
Python type is guessed from the literal type, as ``FlyteRemote`` guesses it): ``21``
for an INTEGER, ``{"a": 1}`` (or a dataclass instance) for a STRUCT, ``[1.0, 2.0]`` for a
list of FLOAT.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2, types_pb2

from plugins.errors import InvalidSubmissionError
from plugins.flyte2 import as_flyteidl1
from plugins.tasks import TransformContext, TypeEngine
from plugins.tasks.types.engine import CONVERSION_ERRORS
from scheduler._model import is_utf8

__all__ = ["template_inputs"]


def _as_proto(value: Any) -> Any:
    """A flytekit model's or a flyteidl2 message's flyteidl message; anything else as it is.

    Raises:
        InvalidSubmissionError: A flyteidl2 message that is no literal or literal map.
    """
    to_idl = getattr(value, "to_flyte_idl", None)
    if callable(to_idl):
        return to_idl()
    try:
        return as_flyteidl1(value)
    except (TypeError, ValueError) as exc:
        raise InvalidSubmissionError(f"inputs: {exc}") from None


def _plain(value: Any) -> Any:
    """A dataclass or pydantic instance as the dict its STRUCT literal holds; else as it is.

    A template declares a dataclass input as a STRUCT (with its JSON schema); the type is not
    here to convert with, but its fields are what the literal carries.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None)  # a pydantic model
    if callable(dump) and not isinstance(value, type):
        return dump(mode="json")
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _convert(
    template: tasks_pb2.TaskTemplate, name: str, value: Any, ctx: TransformContext
) -> literals_pb2.Literal:
    declared = template.interface.inputs.variables
    if name not in declared:
        raise InvalidSubmissionError(
            f"input {name!r}: the task does not declare it, so its Python value "
            f"({type(value).__name__}) cannot be converted; pass a flyteidl core.Literal"
        )
    literal_type = declared[name].type
    try:
        python_type = TypeEngine.guess_python_type(literal_type)
        transformer = TypeEngine.get_transformer(python_type)
        if literal_type.simple == types_pb2.SimpleType.STRUCT:
            value = _plain(value)  # a dataclass for a STRUCT: its fields (a File stays a File)
        return transformer.to_literal(ctx, value, python_type, literal_type)
    except CONVERSION_ERRORS as exc:
        raise InvalidSubmissionError(f"input {name!r}: {exc}") from None


def template_inputs(
    template: tasks_pb2.TaskTemplate, inputs: object, ctx: TransformContext
) -> object:
    """``inputs`` with every Python value and flytekit model turned into a flyteidl literal.

    The result goes on to :func:`~scheduler._client.validation.normalize_inputs`, which
    checks names and sizes; a value that is neither is left for it to refuse.

    Raises:
        InvalidSubmissionError: A Python value for an undeclared input, or one that does
            not fit its declared type; the message names the input.
    """
    inputs = _as_proto(inputs)
    if not isinstance(inputs, Mapping):
        return inputs
    converted: dict[object, object] = {}
    for name, raw in inputs.items():
        if isinstance(name, str) and not is_utf8(name):
            # protobuf cannot even look such a name up: say so instead of a UnicodeError.
            raise InvalidSubmissionError(
                f"input name {name!r} must be valid Unicode text (it has a lone surrogate)"
            )
        value = _as_proto(raw)
        if isinstance(value, literals_pb2.Literal) or not isinstance(name, str) or not name:
            converted[name] = value
        else:
            converted[name] = _convert(template, name, value, ctx)
    return converted
