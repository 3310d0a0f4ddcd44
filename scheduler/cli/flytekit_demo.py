"""The demo's flytekit rows, when the ``flyte-celery[flytekit]`` extra is installed.

A flytekit ``@task`` serialized as ``pyflyte register`` serializes it (the workers run
it with ``pyflyte-execute``), and flytekit's ``FileSensor``, served by the workers'
in-process connectors, that waits for a file the demo writes a few seconds later.
This module imports flytekit: import it only through :func:`flytekit_rows`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2
from flytekit import task
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.sensor.file_sensor import FileSensor
from flytekit.tools.translator import get_serializable

from plugins.flytekit.tidy import remove_temporary_folders_at_exit

__all__ = ["rows", "triple"]

remove_temporary_folders_at_exit()


@task  # type: ignore[untyped-decorator]  # flytekit ships no type information
def triple(x: int) -> int:
    """A flytekit task, run by a worker through flytekit's own entrypoint."""
    return 3 * x


def _template(entity: Any) -> tasks_pb2.TaskTemplate:
    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(), project="demo", domain="development",
        version="demo",
    )  # fmt: skip
    serialized = get_serializable(OrderedDict(), settings, entity)
    idl: tasks_pb2.TaskTemplate = serialized.template.to_flyte_idl()
    return idl


def _literal(value: int | str) -> literals_pb2.Literal:
    literal = literals_pb2.Literal()
    if isinstance(value, int):
        literal.scalar.primitive.integer = value
    else:
        literal.scalar.primitive.string_value = value
    return literal


def rows(flag: Path) -> list[tuple[tasks_pb2.TaskTemplate, Mapping[str, Any], str]]:
    """(template, inputs, label) of the flytekit task and of a sensor waiting for ``flag``."""
    sensor = FileSensor(name="demo_wait_for_file")
    return [
        (_template(triple), {"x": _literal(14)}, "flytekit task"),
        (_template(sensor), {"path": _literal(str(flag))}, "flytekit sensor"),
    ]
