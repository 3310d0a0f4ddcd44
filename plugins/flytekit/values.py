"""flytekit task objects and values for a client: submit a ``@task`` as it is, read its results.

``Client.submit`` takes a flytekit task (a ``@task`` function, a ``ContainerTask``, a
connector's task...) as it takes one of ours: it is serialized as ``pyflyte register``
serializes it (:func:`flytekit_template`), its inputs are converted by flytekit's own type
engine from the task's Python interface (dataclasses, DataFrames, ``FlyteFile``...), and
its results come back through the same engine. Outputs whose type only flytekit knows
(a ``StructuredDataset``) come back as flytekit does for an execution read without its task
(:func:`guessed_python_value`).

flytekit is imported only when a flytekit object is at hand: :func:`is_flytekit_task` looks
at ``sys.modules`` (an object of flytekit's means flytekit is imported already).
"""

# ruff: noqa: PLC0415 - flytekit is imported inside the calls, only once one of its objects is here

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2, types_pb2

from plugins.builtin.staging import as_paths
from plugins.errors import InvalidSubmissionError, OutputConversionError

__all__ = [
    "FlytekitTask",
    "flytekit_template",
    "guessed_python_value",
    "is_flytekit_entity",
    "is_flytekit_task",
]


def is_flytekit_task(obj: object) -> bool:
    """Whether ``obj`` is a flytekit task (never imports flytekit)."""
    base = sys.modules.get("flytekit.core.base_task")
    return base is not None and isinstance(obj, base.Task)


def is_flytekit_entity(obj: object) -> bool:
    """Whether ``obj`` is anything of flytekit's (a workflow, a launch plan...)."""
    return type(obj).__module__.split(".")[0] == "flytekit"


def flytekit_template(task: Any, project: str, domain: str) -> tasks_pb2.TaskTemplate:
    """The template ``pyflyte register`` would register for ``task``.

    Raises:
        InvalidSubmissionError: flytekit cannot serialize it; the message says why.
    """
    from collections import OrderedDict

    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    settings = SerializationSettings(
        image_config=ImageConfig.auto_default_image(),
        project=project,
        domain=domain,
        version="flyte-celery",
    )
    try:
        entity = get_serializable(OrderedDict(), settings, task)
        template: tasks_pb2.TaskTemplate = entity.template.to_flyte_idl()
    except Exception as exc:
        raise InvalidSubmissionError(
            f"flytekit cannot serialize task {getattr(task, 'name', task)!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return template


@contextmanager
def _context(raw_prefix: str | None) -> Iterator[Any]:
    """Flytekit's context, its files going under ``raw_prefix`` (a ``FlyteFile`` input's)."""
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.data_persistence import FileAccessProvider

    ctx = FlyteContextManager.current_context()
    if raw_prefix is None:
        yield ctx
        return
    with tempfile.TemporaryDirectory(prefix="flyte-celery-flytekit-") as sandbox:
        access = FileAccessProvider(local_sandbox_dir=sandbox, raw_output_prefix=raw_prefix)
        with FlyteContextManager.with_context(ctx.with_file_access(access)) as inner:
            yield inner


class FlytekitTask:
    """A flytekit task as the client uses it: its template, inputs and results.

    Args:
        task: The flytekit task object.
    """

    def __init__(self, task: Any) -> None:
        self.task = task
        self.name: str = task.name

    def template(self, project: str, domain: str) -> tasks_pb2.TaskTemplate:
        """Its template (:func:`flytekit_template`)."""
        return flytekit_template(self.task, project, domain)

    def inputs(self, values: object, raw_prefix: str) -> literals_pb2.LiteralMap:
        """``values`` (Python values by input name) as literals, by flytekit's type engine.

        Inputs not given take the function's defaults, as a local call would.

        Raises:
            InvalidSubmissionError: Not a dict, an unknown name, or a value that does not
                fit its type; the message names the input.
        """
        from flytekit.core.type_engine import TypeEngine

        if not isinstance(values, Mapping):
            raise InvalidSubmissionError(
                f"inputs of task {self.name!r} must be a dict of input name to Python value, "
                f"got {type(values).__name__}"
            )
        interface = self.task.python_interface
        declared: dict[str, type] = dict(interface.inputs)
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise InvalidSubmissionError(
                f"task {self.name!r} has no input {unknown[0]!r} "
                f"(its inputs: {', '.join(declared) or 'none'})"
            )
        given = {**interface.default_inputs_as_kwargs, **values}
        literals = {}
        with _context(raw_prefix) as ctx:
            for name, value in given.items():
                try:
                    literal = TypeEngine.to_literal(
                        ctx, value, declared[name], TypeEngine.to_literal_type(declared[name])
                    )
                except Exception as exc:
                    raise InvalidSubmissionError(
                        f"input {name!r} of task {self.name!r}: {type(exc).__name__}: {exc}"
                    ) from None
                literals[name] = literal.to_flyte_idl()
        return literals_pb2.LiteralMap(literals=literals)

    def outputs_from_literal_map(self, params: Any, outputs: literals_pb2.LiteralMap) -> Any:
        """The outputs as the task returns them: one value, a tuple, or ``None``.

        Raises:
            OutputConversionError: flytekit cannot read an output as its declared type.
        """
        from flytekit.core.type_engine import TypeEngine
        from flytekit.models.literals import LiteralMap

        declared: dict[str, type] = dict(self.task.python_interface.outputs)
        with _context(None) as ctx:
            try:
                values = TypeEngine.literal_map_to_kwargs(
                    ctx, LiteralMap.from_flyte_idl(as_paths(outputs)), declared
                )
            except Exception as exc:
                raise OutputConversionError(
                    f"the outputs of task {self.name!r} do not convert back: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
        ordered = [values[name] for name in declared if name in values]
        if not ordered:
            return None
        return ordered[0] if len(ordered) == 1 else tuple(ordered)


def guessed_python_value(
    name: str, literal: literals_pb2.Literal, literal_type: types_pb2.LiteralType
) -> Any:
    """An output only flytekit can read, as flytekit reads it without the task's types.

    A ``StructuredDataset`` comes back as flytekit's ``StructuredDataset`` (``.open(
    pandas.DataFrame).all()`` reads it), as ``FlyteRemote`` gives it.

    Raises:
        OutputConversionError: flytekit is not installed, or cannot read it.
    """
    try:
        from flytekit.core.type_engine import TypeEngine
        from flytekit.models.literals import Literal
        from flytekit.models.types import LiteralType
    except ImportError:
        kind = literal_type.WhichOneof("type") or "an unknown type"
        raise OutputConversionError(
            f"output {name!r} is of type {kind}, which only flytekit reads: "
            "install the flyte-celery[flytekit] extra, or read the literal with outputs()"
        ) from None
    with _context(None) as ctx:
        try:
            python_type = TypeEngine.guess_python_type(LiteralType.from_flyte_idl(literal_type))
            local = as_paths(literals_pb2.LiteralMap(literals={name: literal})).literals[name]
            return TypeEngine.to_python_value(ctx, Literal.from_flyte_idl(local), python_type)
        except Exception as exc:
            raise OutputConversionError(
                f"output {name!r} does not convert to a Python value: {type(exc).__name__}: {exc}"
            ) from None
