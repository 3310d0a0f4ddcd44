"""Python-typed task interfaces and their flyteidl ``TypedInterface``.

An :class:`Interface` maps input names to Python types (with optional defaults)
and output names to Python types. Output names follow flytekit: one output is
``o0``; a ``tuple[...]`` gives ``o0, o1, ...``; a ``typing.NamedTuple`` gives its
field names and comes back as that NamedTuple.
"""

from __future__ import annotations

import inspect
import typing
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flyteidl.core import interface_pb2

from plugins.tasks.types import TypeEngine

__all__ = [
    "NO_DEFAULT",
    "Interface",
    "kwtypes",
    "transform_function_to_interface",
    "transform_interface_to_typed_interface",
]

NO_DEFAULT: Any = inspect.Parameter.empty
"""Marks an input without a default."""


def kwtypes(**kwargs: Any) -> OrderedDict[str, Any]:
    """Name-to-type pairs in order: ``kwtypes(a=int, b=str)`` (flytekit's helper)."""
    return OrderedDict(kwargs)


def _is_named_tuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "_fields")


@dataclass
class Interface:
    """Inputs and outputs of a task, as Python types.

    Args:
        inputs: ``name -> type`` or ``name -> (type, default)``.
        outputs: ``name -> type``.
        output_tuple_name: The NamedTuple the outputs come back as, if any.
        docstring: Descriptions of the inputs and outputs, by name.
    """

    inputs: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    output_tuple_name: str | None = None
    docstring: Mapping[str, str] = field(default_factory=dict)
    output_tuple: type | None = None
    _inputs: dict[str, tuple[Any, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._inputs = {}
        for name, spec in self.inputs.items():
            if isinstance(spec, tuple) and len(spec) == 2:
                self._inputs[name] = (spec[0], spec[1])
            else:
                self._inputs[name] = (spec, NO_DEFAULT)
        self.inputs = {name: tp for name, (tp, _) in self._inputs.items()}
        self.outputs = dict(self.outputs)

    @property
    def inputs_with_defaults(self) -> dict[str, tuple[Any, Any]]:
        """``name -> (type, default)``; ``NO_DEFAULT`` marks a required input."""
        return dict(self._inputs)

    @property
    def default_inputs_as_kwargs(self) -> dict[str, Any]:
        """The defaults of the inputs that have one."""
        return {k: d for k, (_, d) in self._inputs.items() if d is not NO_DEFAULT}

    @property
    def required_inputs(self) -> list[str]:
        """The inputs without a default, in order."""
        return [k for k, (_, d) in self._inputs.items() if d is NO_DEFAULT]

    def pack_outputs(self, values: Mapping[str, Any]) -> Any:
        """The Python value a call returns for ``values`` (one, a tuple or the NamedTuple)."""
        names = list(self.outputs)
        if not names:
            return None
        if self.output_tuple is not None:
            return self.output_tuple(**{n: values[n] for n in names})
        if len(names) == 1:
            return values[names[0]]
        return tuple(values[n] for n in names)

    def unpack_outputs(self, value: Any, task_name: str) -> dict[str, Any]:
        """Split what a function returned into named outputs.

        Raises:
            ValueError: The function returned the wrong number of values.
        """
        names = list(self.outputs)
        if not names:
            return {}
        if len(names) == 1:
            if self.output_tuple is not None and isinstance(value, tuple):
                value = value[0]
            return {names[0]: value}
        if not isinstance(value, tuple) or len(value) != len(names):
            raise ValueError(
                f"task {task_name!r} must return a tuple of {len(names)} values "
                f"({', '.join(names)}), got {type(value).__name__}"
            )
        return dict(zip(names, value, strict=True))


def _output_types(return_type: Any) -> tuple[dict[str, Any], type | None]:
    if return_type is None or return_type is type(None) or return_type is inspect.Signature.empty:
        return {}, None
    if _is_named_tuple(return_type):
        hints = typing.get_type_hints(return_type)
        return {name: hints.get(name, Any) for name in return_type._fields}, return_type
    if typing.get_origin(return_type) is tuple:
        args = typing.get_args(return_type)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(
                "a tuple return type must list each element's type, e.g. tuple[int, str]"
            )
        return {f"o{i}": t for i, t in enumerate(args)}, None
    return {"o0": return_type}, None


def transform_function_to_interface(fn: Callable[..., Any], task_name: str = "") -> Interface:
    """The interface of a function, from its annotations.

    Raises:
        TypeError: A parameter has no annotation, is ``*args``/``**kwargs``, or its
            type is not supported; the message names the parameter.
    """
    label = task_name or getattr(fn, "__qualname__", repr(fn))
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise TypeError(f"task {label!r}: cannot resolve its type annotations: {exc}") from exc
    signature = inspect.signature(fn)
    inputs: dict[str, Any] = {}
    for name, param in signature.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(
                f"task {label!r}: parameter {name!r}: *args and **kwargs are not supported"
            )
        if name not in hints:
            raise TypeError(f"task {label!r}: input {name!r} needs a type annotation")
        inputs[name] = (hints[name], param.default)
    try:
        outputs, tuple_type = _output_types(hints.get("return", inspect.Signature.empty))
    except TypeError as exc:
        raise TypeError(f"task {label!r}: return type: {exc}") from None
    interface = Interface(
        inputs=inputs,
        outputs=outputs,
        output_tuple_name=None if tuple_type is None else tuple_type.__name__,
        output_tuple=tuple_type,
    )
    transform_interface_to_typed_interface(interface, label)  # fail now, not at submit
    return interface


def _variable(tp: Any, description: str, what: str) -> interface_pb2.Variable:
    try:
        literal_type = TypeEngine.to_literal_type(tp)
    except TypeError as exc:
        raise TypeError(f"{what} has unsupported type {tp!r}: {exc}") from None
    return interface_pb2.Variable(type=literal_type, description=description)


def transform_interface_to_typed_interface(
    interface: Interface | None, task_name: str = ""
) -> interface_pb2.TypedInterface:
    """The flyteidl ``TypedInterface`` of ``interface``.

    Raises:
        TypeError: A type is not supported; the message names the input or output.
    """
    if interface is None:
        return interface_pb2.TypedInterface()
    label = f"task {task_name!r}: " if task_name else ""
    inputs = interface_pb2.VariableMap()
    for name, tp in interface.inputs.items():
        inputs.variables[name].CopyFrom(
            _variable(tp, interface.docstring.get(name, ""), f"{label}input {name!r}")
        )
    outputs = interface_pb2.VariableMap()
    for name, tp in interface.outputs.items():
        outputs.variables[name].CopyFrom(
            _variable(tp, interface.docstring.get(name, ""), f"{label}output {name!r}")
        )
    return interface_pb2.TypedInterface(inputs=inputs, outputs=outputs)
