"""The task classes: :class:`Task`, closest to the IDL, and :class:`PythonTask` (flytekit's).

A :class:`Task` knows its type, name, flyteidl interface and metadata, and turns
into a complete ``TaskTemplate`` through hooks that subclasses override
(``get_custom``, ``get_config``, ``get_container``, ...). A :class:`PythonTask`
adds a Python-typed interface: calling it converts Python values through the
type engine both ways, exactly as a worker does, so a local run behaves like a
remote one. Plugin authors subclass :class:`PythonTask` to give users a task
class for their task type; ``@task`` builds a ``PythonFunctionTask``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flyteidl.core import (
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    security_pb2,
    tasks_pb2,
)

from plugins.errors import InputConversionError, OutputConversionError
from plugins.idl import struct_from_dict
from plugins.tasks.context import ExecutionParameters, running
from plugins.tasks.interface import Interface, transform_interface_to_typed_interface
from plugins.tasks.metadata import TaskMetadata
from plugins.tasks.types import TypeEngine

__all__ = ["Documentation", "IgnoreOutputs", "PythonTask", "SerializationSettings", "Task"]

T = TypeVar("T")


class IgnoreOutputs(Exception):
    """Raise it from a task to succeed without outputs (e.g. when another process writes them)."""


@dataclass(frozen=True)
class SerializationSettings:
    """What a template is serialized for: its identifier's project, domain and version.

    Attributes:
        project: The identifier's project.
        domain: The identifier's domain.
        version: The identifier's version.
        env: Extra environment for tasks that carry one.
    """

    project: str = "default"
    domain: str = "development"
    version: str = "v0"
    env: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Documentation:
    """Human documentation of a task (kept on the task, not in the template)."""

    short_description: str = ""
    long_description: str = ""


class Task:
    """A task as the IDL sees it: a type, a name, an interface and metadata.

    Args:
        task_type: The plugin task type, e.g. ``"echo"``.
        name: The task's name (part of its identifier and of its cache key).
        interface: The flyteidl ``TypedInterface``.
        metadata: Retries, timeout, caching...; defaults when omitted.
        task_type_version: The version of the task type's custom format.
        security_ctx: The flyteidl ``SecurityContext``.
        docs: Documentation of the task.
    """

    def __init__(  # noqa: PLR0917 - flytekit's positional signature, kept for its users
        self,
        task_type: str,
        name: str,
        interface: interface_pb2.TypedInterface | None = None,
        metadata: TaskMetadata | None = None,
        task_type_version: int = 0,
        security_ctx: security_pb2.SecurityContext | None = None,
        docs: Documentation | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"Task got unexpected arguments: {', '.join(sorted(kwargs))}")
        if not task_type:
            raise ValueError("task_type must be non-empty")
        if not name:
            raise ValueError("a task needs a non-empty name")
        self._task_type = task_type
        self._name = name
        self._interface = interface or interface_pb2.TypedInterface()
        self._metadata = metadata or TaskMetadata()
        self._task_type_version = task_type_version
        self._security_ctx = security_ctx
        self._docs = docs

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, task_type={self._task_type!r})"

    @property
    def task_type(self) -> str:
        """The plugin task type."""
        return self._task_type

    @property
    def name(self) -> str:
        """The task's name."""
        return self._name

    @property
    def interface(self) -> interface_pb2.TypedInterface:
        """The flyteidl interface."""
        return self._interface

    @property
    def metadata(self) -> TaskMetadata:
        """The task's metadata."""
        return self._metadata

    @property
    def task_type_version(self) -> int:
        """The version of the task type's custom format."""
        return self._task_type_version

    @property
    def security_context(self) -> security_pb2.SecurityContext | None:
        """The flyteidl security context, if any."""
        return self._security_ctx

    @property
    def docs(self) -> Documentation | None:
        """The task's documentation."""
        return self._docs

    def warn_if_deprecated(self) -> None:
        """Warn (``FutureWarning``, shown by default) when the task is deprecated."""
        if self._metadata.deprecated:
            warnings.warn(
                f"task {self._name!r} is deprecated: {self._metadata.deprecated}",
                FutureWarning,
                stacklevel=3,
            )

    # -- serialization hooks -------------------------------------------------------------------

    def get_custom(self, settings: SerializationSettings) -> dict[str, Any] | None:
        """The template's ``custom`` field, as JSON-compatible data (plugins override)."""
        del settings
        return None

    def get_config(self, settings: SerializationSettings) -> dict[str, str] | None:
        """The template's ``config`` map (plugins override)."""
        del settings
        return None

    def get_container(self, settings: SerializationSettings) -> tasks_pb2.Container | None:
        """The template's container, for container-based task types."""
        del settings
        return None

    def get_k8s_pod(self, settings: SerializationSettings) -> tasks_pb2.K8sPod | None:
        """The template's pod spec, for pod-based task types."""
        del settings
        return None

    def get_sql(self, settings: SerializationSettings) -> tasks_pb2.Sql | None:
        """The template's SQL statement, for query task types."""
        del settings
        return None

    def get_extended_resources(
        self, settings: SerializationSettings
    ) -> tasks_pb2.ExtendedResources | None:
        """Accelerators and shared memory, for task types that schedule hardware."""
        del settings
        return None

    def to_task_template(
        self, settings: SerializationSettings | None = None
    ) -> tasks_pb2.TaskTemplate:
        """The complete flyteidl ``TaskTemplate`` of this task."""
        settings = settings or SerializationSettings()
        template = tasks_pb2.TaskTemplate(
            id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project=settings.project,
                domain=settings.domain,
                name=self._name,
                version=settings.version,
            ),
            type=self._task_type,
            metadata=self._metadata.to_taskmetadata_model(),
            interface=self._interface,
            task_type_version=self._task_type_version,
        )
        custom = self.get_custom(settings)
        if custom is not None:
            template.custom.CopyFrom(struct_from_dict(custom))
        for field_name, value in (
            ("container", self.get_container(settings)),
            ("k8s_pod", self.get_k8s_pod(settings)),
            ("sql", self.get_sql(settings)),
            ("extended_resources", self.get_extended_resources(settings)),
            ("security_context", self._security_ctx),
        ):
            if value is not None:
                getattr(template, field_name).CopyFrom(value)
        for key, val in (self.get_config(settings) or {}).items():
            template.config[key] = val
        return template

    # -- execution -----------------------------------------------------------------------------

    def pre_execute(self, params: ExecutionParameters) -> ExecutionParameters:
        """Runs before :meth:`execute`; may return changed parameters."""
        return params

    def execute(self, **kwargs: Any) -> Any:
        """The task's work. A plain ``Task`` gets and returns flyteidl literals."""
        raise NotImplementedError(
            f"task {self._name!r} (type {self._task_type!r}) runs in its plugin on the "
            "backend; submit it with Client.submit"
        )

    def post_execute(self, params: ExecutionParameters, rval: Any) -> Any:
        """Runs after :meth:`execute`; may change the return value."""
        del params
        return rval

    def dispatch_execute(
        self, ctx: ExecutionParameters, input_literal_map: literals_pb2.LiteralMap
    ) -> literals_pb2.LiteralMap:
        """Run with literal inputs and return literal outputs (a worker's entry point).

        Raises:
            IgnoreOutputs: The task chose to succeed without outputs.
            OutputConversionError: ``execute`` returned something that is not literals.
        """
        params = self.pre_execute(ctx)
        with running(params):
            rval = self.execute(**dict(input_literal_map.literals))
            rval = self.post_execute(params, rval)
        if rval is None:
            return literals_pb2.LiteralMap()
        if isinstance(rval, literals_pb2.LiteralMap):
            return rval
        if isinstance(rval, Mapping) and all(
            isinstance(v, literals_pb2.Literal) for v in rval.values()
        ):
            return literals_pb2.LiteralMap(literals=dict(rval))
        raise OutputConversionError(
            f"task {self._name!r}: execute() of a plain Task must return a LiteralMap or a "
            f"dict of Literal, got {type(rval).__name__}"
        )


class PythonTask(Task, Generic[T]):
    """A task with a Python-typed interface; plugin authors subclass it per task type.

    Args:
        task_type: The plugin task type.
        name: The task's name.
        task_config: The plugin's configuration object (see :meth:`get_custom`).
        interface: Python types of the inputs and outputs.
        environment: Environment variables for the task's run.
        metadata: Retries, timeout, caching...
        **kwargs: Passed to :class:`Task` (``task_type_version``, ``security_ctx``, ``docs``).
    """

    def __init__(  # noqa: PLR0917 - flytekit's positional signature, kept for its users
        self,
        task_type: str,
        name: str,
        task_config: T | None = None,
        interface: Interface | None = None,
        environment: Mapping[str, str] | None = None,
        metadata: TaskMetadata | None = None,
        **kwargs: Any,
    ) -> None:
        self._python_interface = interface or Interface()
        super().__init__(
            task_type=task_type,
            name=name,
            interface=transform_interface_to_typed_interface(self._python_interface, name),
            metadata=metadata,
            **kwargs,
        )
        self._task_config = task_config
        self._environment = dict(environment or {})

    @property
    def python_interface(self) -> Interface:
        """The Python-typed interface."""
        return self._python_interface

    @property
    def task_config(self) -> T | None:
        """The plugin's configuration object."""
        return self._task_config

    @property
    def environment(self) -> dict[str, str]:
        """Environment variables for the task's run."""
        return dict(self._environment)

    def get_input_types(self) -> dict[str, Any]:
        """Input name → Python type."""
        return dict(self._python_interface.inputs)

    def get_output_types(self) -> dict[str, Any]:
        """Output name → Python type."""
        return dict(self._python_interface.outputs)

    def bind_inputs(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Name positional and keyword arguments, and add the defaults.

        Raises:
            InputConversionError: Too many, unknown, duplicate or missing arguments.
        """
        names = list(self._python_interface.inputs)
        if len(args) > len(names):
            raise InputConversionError(
                f"task {self.name!r} takes {len(names)} inputs ({', '.join(names)}), "
                f"got {len(args)} positional arguments"
            )
        values = dict(zip(names, args, strict=False))
        for key, value in kwargs.items():
            if key not in self._python_interface.inputs:
                raise InputConversionError(f"task {self.name!r} has no input {key!r}")
            if key in values:
                raise InputConversionError(f"task {self.name!r}: input {key!r} given twice")
            values[key] = value
        for key, default in self._python_interface.default_inputs_as_kwargs.items():
            values.setdefault(key, default)
        missing = [k for k in names if k not in values]
        if missing:
            raise InputConversionError(f"task {self.name!r}: missing inputs: {', '.join(missing)}")
        return values

    def inputs_to_literal_map(
        self, ctx: ExecutionParameters, values: Mapping[str, Any]
    ) -> literals_pb2.LiteralMap:
        """Convert native inputs to literals; the error names the input that does not fit.

        Raises:
            InputConversionError: A value does not match its input's type.
        """
        try:
            return TypeEngine.dict_to_literal_map(ctx.transform, values, self.get_input_types())
        except (TypeError, ValueError, OSError) as exc:
            raise InputConversionError(f"task {self.name!r}: {exc}") from exc

    def outputs_from_literal_map(
        self, ctx: ExecutionParameters, outputs: literals_pb2.LiteralMap
    ) -> Any:
        """Native outputs, packed as a call returns them (one value, a tuple, a NamedTuple)."""
        native = TypeEngine.literal_map_to_kwargs(ctx.transform, outputs, self.get_output_types())
        return self._python_interface.pack_outputs(native)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here, converting values through the type engine both ways."""
        self.warn_if_deprecated()
        return self.local_execute(*args, **kwargs)

    def local_execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task in this process as a worker would, and return Python values."""
        ctx = ExecutionParameters.local(self.name)
        literals = self.inputs_to_literal_map(ctx, self.bind_inputs(*args, **kwargs))
        try:
            outputs = self.dispatch_execute(ctx, literals)
        except IgnoreOutputs:
            return None
        return self.outputs_from_literal_map(ctx, outputs)

    def dispatch_execute(
        self, ctx: ExecutionParameters, input_literal_map: literals_pb2.LiteralMap
    ) -> literals_pb2.LiteralMap:
        """Convert the inputs, run pre_execute/execute/post_execute, convert the outputs.

        Raises:
            InputConversionError: An input literal does not fit its Python type.
            OutputConversionError: The return value does not fit the declared outputs.
            IgnoreOutputs: The task succeeded without outputs.
            Exception: Whatever the user's code raised.
        """
        try:
            native = TypeEngine.literal_map_to_kwargs(
                ctx.transform, input_literal_map, self.get_input_types()
            )
        except (TypeError, ValueError, OSError) as exc:
            raise InputConversionError(f"task {self.name!r}: {exc}") from exc
        params = self.pre_execute(ctx)
        with running(params):
            rval = self.execute(**native)
            if inspect.isawaitable(rval):
                raise TypeError(f"task {self.name!r}: execute() returned an awaitable")
            rval = self.post_execute(params, rval)
        try:
            named = self._python_interface.unpack_outputs(rval, self.name)
        except ValueError as exc:
            raise OutputConversionError(str(exc)) from exc
        outputs = literals_pb2.LiteralMap()
        for key, tp in self.get_output_types().items():
            try:
                outputs.literals[key].CopyFrom(TypeEngine.to_literal(ctx.transform, named[key], tp))
            except (TypeError, ValueError, OSError) as exc:
                raise OutputConversionError(f"task {self.name!r}: output {key!r}: {exc}") from exc
        return outputs
