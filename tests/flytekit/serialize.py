"""Templates as flytekit serializes them (``pyflyte register`` does the same)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable


def template(task: Any, fast: Any = None) -> tasks_pb2.TaskTemplate:
    """The template flytekit serializes for ``task`` (fast-registered with ``fast``)."""
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(),
        project="p",
        domain="d",
        version="v1",
        fast_serialization_settings=fast,
    )
    entity = get_serializable(OrderedDict(), settings, task)
    idl: tasks_pb2.TaskTemplate = entity.template.to_flyte_idl()
    return idl


def literals(**values: int | str) -> dict[str, literals_pb2.Literal]:
    """Input literals of ints and strings."""
    result = {}
    for key, value in values.items():
        literal = literals_pb2.Literal()
        if isinstance(value, int):
            literal.scalar.primitive.integer = value
        else:
            literal.scalar.primitive.string_value = value
        result[key] = literal
    return result
