"""Plugin loading for a process: the registry, YAML overrides, and each plugin's kind.

Plugins come from the ``flyte_celery.plugins`` entry points and from
``FLYTE_CELERY_PLUGINS``; per-plugin ``PluginConfig`` overrides come from the YAML
file in ``FLYTE_CELERY_PLUGIN_CONFIG``. A plugin's kind (async, sync or core) is
decided once, when it loads; callers then use the typed accessor for that kind.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import yaml

from plugins.core import (
    ENTRY_POINT_GROUP,
    PluginRegistry,
    PluginSetupContext,
    ResourceNamespace,
    TaskTypeRouter,
)
from plugins.core import Plugin as CorePlugin
from plugins.errors import ConfigError, PluginLoadError, PluginNotFoundError
from plugins.webapi import DEFAULT_PLUGIN_CONFIG, AsyncPlugin, PluginConfig, SyncPlugin
from scheduler._model import LimiterKind, Step

__all__ = ["LoadedPlugin", "PluginKind", "PluginSet"]

log = logging.getLogger(__name__)


class PluginKind(enum.Enum):
    """What contract a plugin implements."""

    ASYNC = Step.CREATE
    """A web-API AsyncPlugin: create, get, status, delete."""
    SYNC = Step.DO
    """A web-API SyncPlugin: one ``do`` call."""
    CORE = Step.HANDLE
    """A core plugin: ``handle`` round by round, then ``abort`` and ``finalize``."""

    @property
    def launch_step(self) -> Step:
        """The first job of an attempt."""
        step: Step = self.value
        return step

    @property
    def operations(self) -> tuple[str, ...]:
        """The plugin calls of this kind, as the metrics name them: its steps, and the rest."""
        steps, others = _CALLS[self]
        return (*(step.value for step in steps), *others)

    @property
    def limiters(self) -> tuple[LimiterKind, ...]:
        """The global rate limiters its steps go through (:attr:`Step.limiter`)."""
        steps, _ = _CALLS[self]
        return tuple(dict.fromkeys(s.limiter for s in steps if s.limiter is not None))

    @classmethod
    def of(cls, plugin: object) -> PluginKind:
        """The kind of a loaded plugin.

        A core plugin implements ``handle`` and has no PluginConfig; a sync plugin has
        ``do`` and no ``create``; anything else is launched with Create.
        """
        if isinstance(plugin, CorePlugin) and not hasattr(plugin, "get_config"):
            return cls.CORE
        if not hasattr(plugin, "create") and hasattr(plugin, "do"):
            return cls.SYNC
        return cls.ASYNC


_CALLS: dict[PluginKind, tuple[tuple[Step, ...], tuple[str, ...]]] = {
    # Each kind's steps (worker jobs), and the plugin calls made inside them.
    PluginKind.ASYNC: ((Step.CREATE, Step.GET, Step.DELETE), ("status",)),
    PluginKind.SYNC: ((Step.DO,), ()),
    PluginKind.CORE: ((Step.HANDLE,), ("abort", "finalize")),
}


@dataclass(frozen=True)
class LoadedPlugin:
    """A loaded plugin, its kind, and its effective configuration.

    Attributes:
        id: The plugin id.
        plugin: The plugin object.
        config: Its PluginConfig with the YAML overrides applied (core plugins get
            the defaults, which set their round interval and failure budget).
        kind: The contract it implements.
    """

    id: str
    plugin: object
    config: PluginConfig
    kind: PluginKind

    @property
    def launch_step(self) -> Step:
        """The first job of an attempt: Create, Do or Handle."""
        return self.kind.launch_step

    def _expect(self, kind: PluginKind) -> Any:
        if self.kind is not kind:
            raise TypeError(f"plugin {self.id!r} is a {self.kind.name} plugin, not {kind.name}")
        return self.plugin

    def as_async(self) -> AsyncPlugin[Any, Any]:
        """The plugin as an AsyncPlugin (raises TypeError for another kind)."""
        return cast(AsyncPlugin[Any, Any], self._expect(PluginKind.ASYNC))

    def as_sync(self) -> SyncPlugin:
        """The plugin as a SyncPlugin (raises TypeError for another kind)."""
        return cast(SyncPlugin, self._expect(PluginKind.SYNC))

    def as_core(self) -> CorePlugin:
        """The plugin as a core plugin (raises TypeError for another kind)."""
        return cast(CorePlugin, self._expect(PluginKind.CORE))


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _camel_to_snake(data: Any) -> Any:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
            # Quota namespaces are data, not field names: keep their spelling.
            out[snake] = value if snake == "resource_quotas" else _camel_to_snake(value)
        return out
    return data


def _read_overrides(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"FLYTE_CELERY_PLUGIN_CONFIG {path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"FLYTE_CELERY_PLUGIN_CONFIG {path}: expected a mapping of plugin ids")
    return data


class PluginSet:
    """The plugins of one process. Each loads on first use, once.

    Args:
        specs: ``module:attr`` specs of extra plugin entries (``FLYTE_CELERY_PLUGINS``).
        overrides_file: The YAML file of per-plugin overrides, if any.
        registry: A registry to use instead of entry points plus ``specs``.

    Raises:
        ConfigError: The overrides file cannot be read or is not a mapping.
    """

    def __init__(
        self,
        specs: str = "",
        overrides_file: Path | None = None,
        registry: PluginRegistry | None = None,
    ) -> None:
        self._specs = specs
        self._overrides_file = overrides_file
        self._overrides = _read_overrides(overrides_file)
        self._registry = registry
        self._loaded: dict[str, LoadedPlugin] = {}
        self._reported: set[str] = set()
        self._routers: list[LoadedPlugin] | None = None
        self._lock = threading.RLock()

    @property
    def registry(self) -> PluginRegistry:
        """The plugin registry (entry points and ``FLYTE_CELERY_PLUGINS``)."""
        with self._lock:
            if self._registry is None:
                # Each loader sees its own section of the file (setup.config).
                registry = PluginRegistry(PluginSetupContext(plugin_configs=self._overrides))
                registry.load_entry_points(ENTRY_POINT_GROUP)
                registry.load_specs(self._specs)
                self._registry = registry
            return self._registry

    @property
    def ids(self) -> list[str]:
        """Every registered plugin id."""
        return self.registry.ids

    def get(self, plugin_id: str) -> LoadedPlugin:
        """The loaded plugin with ``plugin_id`` and its effective config.

        Raises:
            PluginNotFoundError: No such plugin.
            PluginLoadError: It failed to load, or its config override is invalid.
        """
        with self._lock:
            loaded = self._loaded.get(plugin_id)
            if loaded is not None:
                return loaded
            plugin = self.registry.get_plugin(plugin_id)
            kind = PluginKind.of(plugin)
            # Core plugins have no PluginConfig; the defaults (and overrides) set their
            # round interval (caching.resyncInterval) and failure budget.
            has_config = hasattr(plugin, "get_config")
            base = plugin.get_config() if has_config else DEFAULT_PLUGIN_CONFIG
            config = self._effective(plugin_id, base, getattr(plugin, "own_config_keys", ()))
            loaded = LoadedPlugin(plugin_id, plugin, config, kind)
            self._loaded[plugin_id] = loaded
            return loaded

    def for_task_type(self, task_type: str) -> LoadedPlugin:
        """The plugin that handles ``task_type``.

        Raises:
            PluginNotFoundError: No plugin handles it.
        """
        return self.get(self.registry.entry_for(task_type).id)

    def route(
        self, task_type: str, served: Callable[[str], str | None] | None = None
    ) -> LoadedPlugin | None:
        """The plugin that runs ``task_type``: the scheduler's routing, at launch.

        In order: a plugin that lists the type in ``default_for_task_types``; a
        :class:`~plugins.core.TaskTypeRouter` (``connector-service``) that claims it;
        the plugin that registered it; the plugin a live process serves it with
        (``served``, see :class:`~scheduler._backend.ServedTypes`); the default plugin.

        Returns:
            The plugin, or ``None`` while a router does not know its types yet (its
            first discovery is still running): ask again later rather than route a
            type it may claim elsewhere.

        Raises:
            PluginNotFoundError: Nothing serves it, or a live process serves it with a
                plugin this process does not have.
            PluginError: Several plugins handle it and none is preferred.
            PluginLoadError: The chosen plugin fails to load.
        """
        preferred = self.registry.preferred_for(task_type)
        if preferred is not None:
            return self.get(preferred.id)
        for router in self.routers():
            claimed = cast(TaskTypeRouter, router.plugin).claimed_task_types()
            if claimed is None:
                return None
            if task_type in claimed:
                return router
        if task_type not in self.registry.task_types():
            plugin_id = served(task_type) if served is not None else None
            if plugin_id is not None:
                return self._served_plugin(task_type, plugin_id)
        return self.for_task_type(task_type)  # its plugin, the default one, or unknown

    def _served_plugin(self, task_type: str, plugin_id: str) -> LoadedPlugin:
        try:
            return self.get(plugin_id)
        except PluginNotFoundError:
            raise PluginNotFoundError(
                f"task type {task_type!r} is served by running workers with plugin "
                f"{plugin_id!r}, which this process does not have (install it where the "
                "scheduler runs too)"
            ) from None

    def routers(self, wait: timedelta = timedelta(0)) -> list[LoadedPlugin]:
        """The loaded plugins whose task types are known only at run time.

        Args:
            wait: How long to wait for each one's first discovery (the scheduler waits
                at start-up, before it leads, so the first launches route right).
        """
        with self._lock:
            if self._routers is None:
                self._routers = [p for p in self.loadable() if isinstance(p.plugin, TaskTypeRouter)]
            routers = list(self._routers)
        if wait > timedelta(0):
            for router in routers:
                try:
                    cast(TaskTypeRouter, router.plugin).claimed_task_types(wait)
                except Exception as exc:
                    log.error("plugin %s: discovering its task types failed: %s", router.id, exc)
        return routers

    def routes(self, *, claims: bool) -> dict[str, str]:
        """What this process serves: task type -> plugin id, for :class:`ServedTypes`.

        Args:
            claims: Route as the scheduler does, routers' claims included. Without, the
                types the registry knows, by the entry that handles each (nothing is
                loaded: workers publish from the process that forks their pool).
        """
        registry = self.registry
        types = set(registry.task_types())
        if claims:
            for router in self.routers():
                types |= cast(TaskTypeRouter, router.plugin).claimed_task_types() or set()
        routes: dict[str, str] = {}
        for task_type in sorted(types):
            try:
                chosen = self.route(task_type) if claims else registry.entry_for(task_type)
            except Exception:
                continue  # ambiguous or failing to load: it serves nothing
            if chosen is not None:
                routes[task_type] = chosen.id
        return routes

    def close(self) -> None:
        """Call ``close()`` on every loaded plugin that has one (best effort)."""
        with self._lock:
            loaded = list(self._loaded.values())
        for plugin in loaded:
            close = getattr(plugin.plugin, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:
                    log.warning("plugin %s did not close cleanly: %s", plugin.id, exc)

    def load_all(self) -> list[LoadedPlugin]:
        """Load every registered plugin now (workers and the scheduler do, at start-up)."""
        return [self.get(plugin_id) for plugin_id in self.ids]

    def _effective(
        self, plugin_id: str, config: PluginConfig, own_keys: Iterable[str]
    ) -> PluginConfig:
        section = self._overrides.get(plugin_id)
        if not section:
            return config
        if not isinstance(section, dict):
            raise PluginLoadError(
                f"plugin {plugin_id!r}: override in {self._overrides_file}: expected a mapping, "
                f"got {type(section).__name__}"
            )
        # A plugin with settings of its own (connector-service) keeps its PluginConfig
        # under ``webApi``, as Propeller's does; its own keys are not PluginConfig's.
        own = set(own_keys)
        override = section.get("webApi", {k: v for k, v in section.items() if k not in own})
        if not override:
            return config
        base = config.model_dump(mode="python")
        merged = _deep_merge(base, _camel_to_snake(override))
        try:
            return PluginConfig(**merged, resource_meta=config.resource_meta)
        except ValueError as exc:
            raise PluginLoadError(
                f"plugin {plugin_id!r}: override in {self._overrides_file}: {exc}"
            ) from exc

    @staticmethod
    def quota_namespace(plugin_id: str, namespace: str) -> ResourceNamespace:
        """The ResourceManager namespace of a plugin's quota: ``<plugin id>:<namespace>``."""
        return ResourceNamespace(plugin_id).create_sub_namespace(namespace)

    def loadable(self) -> list[LoadedPlugin]:
        """Every plugin that loads.

        One that fails is logged once and left out, so it fails only its own executions
        (with its load error) and every other plugin keeps running.
        """
        loaded: list[LoadedPlugin] = []
        for plugin_id in self.ids:
            try:
                loaded.append(self.get(plugin_id))
            except Exception as exc:
                if plugin_id not in self._reported:
                    self._reported.add(plugin_id)
                    log.error(
                        "plugin %s failed to load; its executions will fail: %s", plugin_id, exc
                    )
        return loaded

    def quotas(self) -> dict[str, int]:
        """The quotas of every plugin that loads, by ``<plugin id>:<namespace>``.

        Not those of a router that claims no task type (a connector service with no
        deployment configured): it serves nothing, and its namespace would only show up
        in the metrics. Once it claims one (its first discovery found some), its quota is
        registered with the rest (:meth:`Runtime.ensure_quotas`).
        """
        return {
            self.quota_namespace(loaded.id, namespace): quota
            for loaded in self.loadable()
            if not _claims_nothing(loaded)
            for namespace, quota in loaded.config.resource_quotas.items()
        }


def _claims_nothing(loaded: LoadedPlugin) -> bool:
    if not isinstance(loaded.plugin, TaskTypeRouter):
        return False
    try:
        return loaded.plugin.claimed_task_types() == frozenset()
    except Exception:
        return False  # its discovery failing: keep its quota, as before
