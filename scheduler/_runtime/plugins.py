"""The plugins of a process: loading them, and routing task types to them.

Plugins come from the ``flyte_celery.plugins`` entry points and from
``FLYTE_CELERY_PLUGINS``; per-plugin ``PluginConfig`` overrides from the YAML file in
``FLYTE_CELERY_PLUGIN_CONFIG`` (:mod:`.overrides`). Each loads once, on first use, as a
:class:`~scheduler._runtime.loaded.LoadedPlugin` of its kind. The set routes a task type
to a plugin (its own registry, the routers' claims, what live processes serve), publishes
what it serves, and says how many Gets one job of a plugin carries.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import cast

from plugins.core import (
    ENTRY_POINT_GROUP,
    PluginRegistry,
    PluginSetupContext,
    ResourceNamespace,
    TaskTypeRouter,
)
from plugins.errors import PluginError, PluginNotFoundError
from plugins.webapi import DEFAULT_PLUGIN_CONFIG
from scheduler._backend import ServedTypes
from scheduler._model import LimiterKind
from scheduler._runtime.loaded import LoadedPlugin, PluginKind
from scheduler._runtime.overrides import Overrides
from scheduler.metrics import zero_series

__all__ = ["PluginSet", "limiter_name"]

log = logging.getLogger(__name__)


class PluginSet:
    """The plugins of one process. Each loads on first use, once.

    Args:
        specs: ``module:attr`` specs of extra plugin entries (``FLYTE_CELERY_PLUGINS``).
        overrides_file: The YAML file of per-plugin overrides, if any.
        registry: A registry to use instead of entry points plus ``specs``.
        served: What live processes serve (asked in routing); none: this process alone.
        get_batch_size: ``FLYTE_CELERY_GET_BATCH_SIZE`` (see :meth:`get_batch_size`).

    Raises:
        ConfigError: The overrides file cannot be read or is not a mapping.
    """

    def __init__(
        self,
        specs: str = "",
        overrides_file: Path | None = None,
        registry: PluginRegistry | None = None,
        served: ServedTypes | None = None,
        get_batch_size: int = 200,
    ) -> None:
        self._specs = specs
        self._served = served
        self._get_batch_size = get_batch_size
        self._overrides = Overrides(overrides_file)
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
                registry = PluginRegistry(
                    PluginSetupContext(plugin_configs=self._overrides.sections)
                )
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
            config = self._overrides.effective(
                plugin_id, base, getattr(plugin, "own_config_keys", ())
            )
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
            lookup = served or (self._served.lookup if self._served is not None else None)
            plugin_id = lookup(task_type) if lookup is not None else None
            if plugin_id is not None:
                return self._served_plugin(task_type, plugin_id)
        return self.for_task_type(task_type)  # its plugin, the default one, or unknown

    def check_served(self, task_type: str) -> None:
        """Accept a task type that a live process serves, or that this process's registry knows.

        A client cannot know every type: workers import connector modules it does
        not, and the scheduler discovers connectors over gRPC. So what live processes
        publish (:class:`~scheduler._backend.ServedTypes`) is asked first, and the local
        plugins are loaded only for a type none serves.

        Raises:
            PluginNotFoundError: Nothing serves it; the message lists what is served.
            PluginError: Several local plugins handle it and none is preferred.
        """
        if self._served is not None and self._served.lookup(task_type) is not None:
            # A live process routes it: no need to load every plugin here (connector
            # modules would import flytekit, and install its traceback hook, in the
            # user's script).
            return
        try:
            self.registry.entry_for(task_type)
        except PluginNotFoundError as exc:
            served = ", ".join(sorted(self._served.all())) if self._served else ""
            raise PluginNotFoundError(
                f"{exc.message}, and no running worker or scheduler serves it "
                f"(served by running processes: {served or 'none'})"
            ) from None

    def publish_served(self, *, claims: bool, ttl: timedelta) -> dict[str, str]:
        """Publish the task types this process serves (:meth:`routes`) for ``ttl``; returns them."""
        routes = self.routes(claims=claims)
        if self._served is not None:
            self._served.publish(routes, ttl)
        return routes

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
        registered with the rest (the scheduler checks every tick).
        """
        return {
            self.quota_namespace(loaded.id, namespace): quota
            for loaded in self.loadable()
            if not _claims_nothing(loaded)
            for namespace, quota in loaded.config.resource_quotas.items()
        }

    def get_batch_size(self, plugin_id: str) -> int:
        """How many Gets one job of the plugin carries.

        ``FLYTE_CELERY_GET_BATCH_SIZE``, or the plugin's ``caching.workers`` if larger: a
        worker process runs one job at a time (prefork), so it can only run ``workers``
        calls at once when a job brings that many. A plugin that cannot load keeps the
        default: it fails its executions elsewhere.
        """
        try:
            return max(self._get_batch_size, self.get(plugin_id).config.caching.workers)
        except PluginError:
            return self._get_batch_size

    def largest_get_batch(self) -> int:
        """The largest Get job of any plugin that loads (see :meth:`get_batch_size`)."""
        sizes = [self.get_batch_size(loaded.id) for loaded in self.loadable()]
        return max([self._get_batch_size, *sizes])

    def zero_metrics(self) -> None:
        """Make the metric series of every plugin that loads, now, at zero.

        Its calls, its rate limiters, the task types whose cache lookups are counted and
        the quota namespaces (see :func:`scheduler.metrics.zero_series`). Loads the
        plugins, as the first job or tick would.
        """
        loaded = self.loadable()
        zero_series(
            {p.id: p.kind.operations for p in loaded},
            [limiter_name(p.id, kind) for p in loaded for kind in p.kind.limiters],
            self.routes(claims=True),  # the task types it routes, as the scheduler does
            self.quotas(),
        )


def limiter_name(plugin_id: str, kind: LimiterKind) -> str:
    """A rate limiter's name in the metrics: ``<plugin id>/<read|write>``."""
    return f"{plugin_id}/{kind.value}"


def _claims_nothing(loaded: LoadedPlugin) -> bool:
    if not isinstance(loaded.plugin, TaskTypeRouter):
        return False
    try:
        return loaded.plugin.claimed_task_types() == frozenset()
    except Exception:
        return False  # its discovery failing: keep its quota, as before
