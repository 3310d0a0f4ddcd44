"""Core plugins and their entries (Go's ``core/plugin.go`` and ``setup_context.go``).

A core plugin handles an attempt round by round: ``handle`` returns a
:class:`Transition`, ``abort`` tears a running attempt down and ``finalize``
releases what it holds. Web-API plugins (``plugins.webapi``) are the common case
and are driven by the engine's own state machine instead; both kinds register
through a :class:`PluginEntry` whose loader is called lazily, once.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

from flyteidl.core import interface_pb2

from plugins.core.context import TaskExecutionContext
from plugins.core.execution_id import MIN_GENERATED_NAME_LENGTH
from plugins.core.resources import ResourceNamespace, ResourceRegistrar
from plugins.core.secrets import EnvSecretManager, SecretManager
from plugins.core.transition import Transition
from plugins.errors import PluginLoadError

__all__ = [
    "ErrorAggregationStrategy",
    "Plugin",
    "PluginEntry",
    "PluginProperties",
    "PluginSetupContext",
    "TaskTypeRouter",
    "call_loader",
]


class ErrorAggregationStrategy(enum.StrEnum):
    """How a task's error files are read (Go's ``k8s.ErrorAggregationStrategy``)."""

    DEFAULT = "default"
    """Read the single ``error.pb``."""

    EARLIEST = "earliest"
    """Read every ``error*.pb`` and report the one with the earliest timestamp."""


@dataclass(frozen=True)
class PluginProperties:
    """Static properties of a core plugin.

    Attributes:
        disable_node_level_caching: The plugin caches results itself.
        generated_name_max_length: The longest generated name the plugin's remote
            side accepts; at least 8. ``None`` keeps the default of 50.
        error_aggregation_strategy: How to read the attempt's error documents.
    """

    disable_node_level_caching: bool = False
    generated_name_max_length: int | None = None
    error_aggregation_strategy: ErrorAggregationStrategy = ErrorAggregationStrategy.DEFAULT


class _ScopedRegistrar:
    """Registers a plugin's quotas under ``<plugin id>:<namespace>`` so plugins never collide."""

    def __init__(self, inner: ResourceRegistrar, plugin_id: str) -> None:
        self._inner = inner
        self._prefix = ResourceNamespace(plugin_id)

    def register_resource_quota(self, namespace: ResourceNamespace, quota: int) -> None:
        self._inner.register_resource_quota(self._prefix.create_sub_namespace(namespace), quota)


@dataclass(frozen=True)
class PluginSetupContext:
    """What a plugin loader may use (Go's ``SetupContext``).

    Attributes:
        resource_registrar: Where quotas are registered; ``None`` when the process
            enforces no quotas (e.g. a submitting client).
        secret_manager: Secrets the loader may read, e.g. API credentials.
        plugin_id: The id of the plugin being loaded; set by the registry.
        plugin_configs: Every plugin's section of the ``FLYTE_CELERY_PLUGIN_CONFIG``
            file, by plugin id; a loader reads its own through :attr:`config`.
    """

    resource_registrar: ResourceRegistrar | None = None
    secret_manager: SecretManager = field(default_factory=EnvSecretManager)
    plugin_id: str = ""
    plugin_configs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def config(self) -> Mapping[str, Any]:
        """This plugin's section of the plugin configuration file (empty if none).

        A plugin with settings of its own (``connector-service``: its connectors and
        routing) reads them here; its ``webApi`` key holds its PluginConfig overrides.
        """
        return self.plugin_configs.get(self.plugin_id) or {}

    def for_plugin(self, plugin_id: str) -> PluginSetupContext:
        """The context for one plugin: its quotas are registered as ``<plugin_id>:<namespace>``."""
        registrar = self.resource_registrar
        if registrar is not None:
            registrar = _ScopedRegistrar(registrar, plugin_id)
        return replace(self, resource_registrar=registrar, plugin_id=plugin_id)


@runtime_checkable
class TaskTypeRouter(Protocol):
    """A plugin whose task types are known only at run time (``connector-service``).

    Its entry registers no task types; the scheduler asks the loaded plugin which
    types it claims when it routes an execution. A claim beats a plugin that merely
    registers the type, but not one that lists it in ``default_for_task_types``
    (Propeller's rule for its connector plugin).
    """

    def claimed_task_types(self, wait: timedelta = ...) -> frozenset[str] | None:
        """The task types claimed now, or ``None`` while they are not known yet.

        Args:
            wait: How long to wait for a first discovery.
        """
        ...


@runtime_checkable
class Plugin(Protocol):
    """A core plugin: handles an attempt round by round."""

    def get_id(self) -> str:
        """The plugin's id."""
        ...

    def get_properties(self) -> PluginProperties:
        """The plugin's static properties."""
        ...

    def handle(self, ctx: TaskExecutionContext) -> Transition:
        """Advance the attempt by one round. Errors are raised, not returned."""
        ...

    def abort(self, ctx: TaskExecutionContext) -> None:
        """Tear down a still-running attempt; called at least once, must be idempotent."""
        ...

    def finalize(self, ctx: TaskExecutionContext) -> None:
        """Release what the attempt holds; always called once the attempt ends."""
        ...


def call_loader(loader: Callable[..., Any], setup: PluginSetupContext, plugin_id: str) -> Any:
    """Call a plugin loader that takes a :class:`PluginSetupContext` or nothing.

    Raises:
        PluginLoadError: The loader raised; the message names the plugin.
    """
    try:
        params = [
            p
            for p in inspect.signature(loader).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
        ]
    except (TypeError, ValueError):  # builtins without a signature
        params = []
    try:
        return loader(setup) if params else loader()
    except PluginLoadError:
        raise
    except Exception as exc:
        raise PluginLoadError(
            f"plugin {plugin_id!r}: loader failed: {type(exc).__name__}: {exc}"
        ) from exc


@dataclass(frozen=True)
class PluginEntry:
    """Registers a core plugin: Flyte's ``core.PluginEntry``.

    A web-API plugin registers with :class:`plugins.webapi.PluginEntry` (Flyte's
    ``webapi.PluginEntry``) instead; both keep Flyte's names and fields.

    Attributes:
        id: Unique plugin id.
        registered_task_types: The task types the plugin handles.
        load_plugin: Builds the plugin; takes a :class:`PluginSetupContext` or no
            argument. Called once, lazily, before first use.
        is_default: Handle task types that no plugin registered (at most one default).
        default_for_task_types: Task types, among ``registered_task_types``, for which
            this plugin wins when several plugins register them.
        task_interface: The inputs and outputs every task of these types takes, when
            the plugin fixes them (``core-sleep``: one ``duration``). ``flyte-celery
            submit --type`` then checks inputs against it; ``None``: any.
    """

    id: str
    registered_task_types: Sequence[str]
    load_plugin: Callable[..., Plugin]
    is_default: bool = False
    default_for_task_types: Sequence[str] = ()
    task_interface: interface_pb2.TypedInterface | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "registered_task_types", tuple(self.registered_task_types))
        object.__setattr__(self, "default_for_task_types", tuple(self.default_for_task_types))

    @property
    def task_types(self) -> tuple[str, ...]:
        """The task types this entry handles."""
        return tuple(self.registered_task_types)

    def load(self, setup: PluginSetupContext) -> Plugin:
        """Call the loader and check the plugin's properties (Go's ``LoadPlugin``).

        Raises:
            PluginLoadError: The loader failed, returned no plugin, or the plugin's
                ``generated_name_max_length`` is below 8.
        """
        plugin = call_loader(self.load_plugin, setup, self.id)
        if not isinstance(plugin, Plugin):
            raise PluginLoadError(
                f"plugin {self.id!r}: loader returned {type(plugin).__name__}, which lacks "
                "get_id/get_properties/handle/abort/finalize"
            )
        length = plugin.get_properties().generated_name_max_length
        if length is not None and length < MIN_GENERATED_NAME_LENGTH:
            raise PluginLoadError(
                f"plugin {self.id!r}: GeneratedNameMaxLength must be greater than "
                f"{MIN_GENERATED_NAME_LENGTH} or equal to it, got {length}"
            )
        return plugin
