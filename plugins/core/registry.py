"""The plugin registry: which plugin handles which task type.

Entries come from the entry-point group ``flyte_celery.plugins``, from
``module:attr`` specs given in settings, or from :meth:`PluginRegistry.register`.
Both core entries (:class:`plugins.core.PluginEntry`) and web-API entries
(:class:`plugins.webapi.PluginEntry`) are accepted; each knows how to load itself.

Resolution follows FlytePropeller's rules:

1. a plugin that lists the task type in ``default_for_task_types`` wins;
2. otherwise the only plugin registered for the task type;
3. otherwise, for a task type nobody registered, the one ``is_default`` plugin;
4. otherwise :class:`PluginNotFoundError`. Several plugins for one task type with
   no ``default_for_task_types`` choice is an error too.

Loaders are called lazily, exactly once per entry, before first use; a loader
that fails is not called again and its error is raised on every use.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Sequence
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from plugins.core.plugin import PluginSetupContext
from plugins.errors import (
    ConfigError,
    DuplicatePluginError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
)

__all__ = ["ENTRY_POINT_GROUP", "PluginRegistry", "RegistrableEntry", "parse_plugin_specs"]

ENTRY_POINT_GROUP = "flyte_celery.plugins"


@runtime_checkable
class RegistrableEntry(Protocol):
    """What the registry needs of an entry; both kinds of PluginEntry satisfy it."""

    @property
    def id(self) -> str:
        """Unique plugin id."""
        ...

    @property
    def task_types(self) -> tuple[str, ...]:
        """Task types handled."""
        ...

    @property
    def is_default(self) -> bool:
        """Whether this is the fallback plugin."""
        ...

    @property
    def default_for_task_types(self) -> Sequence[str]:
        """Task types for which this plugin wins ties."""
        ...

    def load(self, setup: PluginSetupContext) -> Any:
        """Build the plugin."""
        ...


class _Slot:
    """One registered entry and its once-only load."""

    def __init__(self, entry: RegistrableEntry) -> None:
        self.entry = entry
        self.lock = threading.Lock()
        self.loaded = False
        self.plugin: Any = None
        self.error: PluginLoadError | None = None


def parse_plugin_specs(specs: str | Iterable[str]) -> list[str]:
    """Split ``"pkg.mod:entry, other.mod:ENTRIES"`` (or a list of them) into specs.

    Raises:
        ConfigError: A spec is not of the form ``module:attr``.
    """
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    result = []
    for raw in items:
        spec = raw.strip()
        if not spec:
            continue
        module, sep, attr = spec.partition(":")
        if not sep or not module.strip() or not attr.strip():
            raise ConfigError(f"plugin spec {spec!r} is not of the form 'package.module:attribute'")
        result.append(spec)
    return result


def _as_entries(obj: Any, source: str) -> list[RegistrableEntry]:
    """Accept an entry, an iterable of entries, or a zero-argument callable returning either."""
    if isinstance(obj, RegistrableEntry):
        return [obj]
    if isinstance(obj, Iterable) and not isinstance(obj, str | bytes):
        items = list(obj)
        bad = [i for i in items if not isinstance(i, RegistrableEntry)]
        if not bad:
            return items
        raise PluginLoadError(
            f"{source}: expected PluginEntry objects, got {type(bad[0]).__name__}"
        )
    if callable(obj):
        try:
            produced = obj()
        except Exception as exc:
            raise PluginLoadError(f"{source}: calling it failed: {exc}") from exc
        return _as_entries(produced, source)
    raise PluginLoadError(
        f"{source}: expected a plugins.core.PluginEntry or plugins.webapi.PluginEntry, "
        f"got {type(obj).__name__}"
    )


class PluginRegistry:
    """Registered plugin entries and their lazily loaded plugins.

    Args:
        setup: Passed (scoped per plugin) to every loader.
    """

    def __init__(self, setup: PluginSetupContext | None = None) -> None:
        self._setup = setup or PluginSetupContext()
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.RLock()

    # -- registration --------------------------------------------------------------------------

    def register(self, entry: RegistrableEntry) -> None:
        """Add an entry.

        Raises:
            DuplicatePluginError: The id is taken, or a second entry claims ``is_default``.
            PluginError: The entry lists a ``default_for_task_types`` value it does not handle.
        """
        if not isinstance(entry, RegistrableEntry):
            raise PluginError(f"cannot register {type(entry).__name__}: not a PluginEntry")
        if not entry.id:
            raise PluginError("a plugin entry needs a non-empty id")
        stray = set(entry.default_for_task_types) - set(entry.task_types)
        if stray:
            raise PluginError(
                f"plugin {entry.id!r} is default for task types {sorted(stray)} that it does "
                f"not handle (it handles {list(entry.task_types)})"
            )
        with self._lock:
            if entry.id in self._slots:
                raise DuplicatePluginError(f"a plugin with id {entry.id!r} is already registered")
            if entry.is_default:
                current = self._default_slot()
                if current is not None:
                    raise DuplicatePluginError(
                        f"plugin {entry.id!r} cannot be the default plugin: "
                        f"{current.entry.id!r} already is"
                    )
            self._slots[entry.id] = _Slot(entry)

    def register_all(self, entries: Iterable[RegistrableEntry]) -> None:
        """Register several entries."""
        for entry in entries:
            self.register(entry)

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register every entry published under the entry-point ``group``.

        Returns:
            The ids registered.

        Raises:
            PluginLoadError: An entry point failed to import; the message names it.
        """
        ids: list[str] = []
        for ep in sorted(entry_points(group=group), key=lambda e: e.name):
            source = f"entry point {ep.name!r} ({ep.value}) in group {group!r}"
            try:
                obj = ep.load()
            except Exception as exc:
                raise PluginLoadError(f"{source} failed to import: {exc}") from exc
            for entry in _as_entries(obj, source):
                self.register(entry)
                ids.append(entry.id)
        return ids

    @staticmethod
    def published_entry(plugin_id: str, group: str = ENTRY_POINT_GROUP) -> RegistrableEntry | None:
        """The entry of ``plugin_id``, from the entry point of that name alone, if it has one.

        Built-in and most third-party plugins publish one entry under their own id. Loading
        that one entry point spares a process the others (the flytekit connectors' would
        import flytekit) when it needs one plugin's declarations, not a registry.

        Returns:
            The entry, or ``None`` when no entry point of that name publishes exactly one
            entry with that id (load the registry then).
        """
        found = [ep for ep in entry_points(group=group) if ep.name == plugin_id]
        if len(found) != 1:
            return None
        try:
            obj = found[0].load()
        except Exception:
            return None  # the registry's load reports it, with its message
        if not isinstance(obj, RegistrableEntry) or obj.id != plugin_id:
            return None  # a factory, or several entries: only the registry knows them
        return obj

    def load_specs(self, specs: str | Iterable[str]) -> list[str]:
        """Register the entries named by ``module:attr`` specs (e.g. from ``FLYTE_CELERY_PLUGINS``).

        Returns:
            The ids registered.

        Raises:
            ConfigError: A spec is malformed.
            PluginLoadError: A module or attribute cannot be loaded.
        """
        ids: list[str] = []
        for spec in parse_plugin_specs(specs):
            module_name, _, attr = spec.partition(":")
            source = f"plugin spec {spec!r}"
            try:
                obj: Any = importlib.import_module(module_name.strip())
            except Exception as exc:
                raise PluginLoadError(f"{source}: cannot import {module_name!r}: {exc}") from exc
            for part in attr.strip().split("."):
                try:
                    obj = getattr(obj, part)
                except AttributeError:
                    raise PluginLoadError(
                        f"{source}: module {module_name!r} has no attribute {attr!r}"
                    ) from None
            for entry in _as_entries(obj, source):
                self.register(entry)
                ids.append(entry.id)
        return ids

    # -- lookup --------------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Registered plugin ids, in registration order."""
        with self._lock:
            return list(self._slots)

    def task_types(self) -> set[str]:
        """Every task type some entry registered."""
        with self._lock:
            return {tt for slot in self._slots.values() for tt in slot.entry.task_types}

    def _default_slot(self) -> _Slot | None:
        return next((s for s in self._slots.values() if s.entry.is_default), None)

    def _preferred(self, task_type: str) -> _Slot | None:
        with self._lock:
            preferred = [
                s for s in self._slots.values() if task_type in s.entry.default_for_task_types
            ]
        if len(preferred) > 1:
            ids = ", ".join(s.entry.id for s in preferred)
            raise PluginError(f"task type {task_type!r} has several default plugins: {ids}")
        return preferred[0] if preferred else None

    def preferred_for(self, task_type: str) -> RegistrableEntry | None:
        """The entry that lists ``task_type`` in its ``default_for_task_types``, if any.

        Raises:
            PluginError: Several do.
        """
        slot = self._preferred(task_type)
        return None if slot is None else slot.entry

    def _slot_for(self, task_type: str) -> _Slot:
        preferred = self._preferred(task_type)
        if preferred is not None:
            return preferred
        with self._lock:
            candidates = [s for s in self._slots.values() if task_type in s.entry.task_types]
            if len(candidates) == 1:
                return candidates[0]
            if candidates:
                ids = ", ".join(s.entry.id for s in candidates)
                raise PluginError(
                    f"several plugins handle task type {task_type!r} ({ids}); list it in one "
                    "plugin's default_for_task_types to choose"
                )
            default = self._default_slot()
            if default is not None:
                return default
            known = ", ".join(sorted(self.task_types())) or "none"
            raise PluginNotFoundError(
                f"unknown task type {task_type!r}: no plugin handles it and no default plugin "
                f"is configured (registered task types: {known})"
            )

    def entry_for(self, task_type: str) -> RegistrableEntry:
        """The entry that handles ``task_type``, without loading it.

        Raises:
            PluginNotFoundError: Nothing handles it.
            PluginError: Several plugins handle it and none is preferred.
        """
        return self._slot_for(task_type).entry

    def resolve(self, task_type: str) -> Any:
        """The loaded plugin for ``task_type``; loads it on first use.

        Raises:
            PluginNotFoundError: Nothing handles it.
            PluginLoadError: Its loader failed (now or at an earlier use).
        """
        return self._load(self._slot_for(task_type))

    def get_plugin(self, plugin_id: str) -> Any:
        """The loaded plugin with ``plugin_id``; loads it on first use.

        Raises:
            PluginNotFoundError: No plugin has that id.
            PluginLoadError: Its loader failed.
        """
        with self._lock:
            slot = self._slots.get(plugin_id)
        if slot is None:
            raise PluginNotFoundError(
                f"no plugin with id {plugin_id!r} (registered: {', '.join(self.ids) or 'none'})"
            )
        return self._load(slot)

    def load_all(self) -> dict[str, Any]:
        """Load every plugin now, e.g. so that quotas are registered at start-up."""
        return {plugin_id: self.get_plugin(plugin_id) for plugin_id in self.ids}

    def _load(self, slot: _Slot) -> Any:
        with slot.lock:
            if not slot.loaded:
                slot.loaded = True
                try:
                    slot.plugin = slot.entry.load(self._setup.for_plugin(slot.entry.id))
                except PluginLoadError as exc:
                    slot.error = exc
                except Exception as exc:
                    slot.error = PluginLoadError(
                        f"plugin {slot.entry.id!r} failed to load: {type(exc).__name__}: {exc}"
                    )
                    slot.error.__cause__ = exc
            if slot.error is not None:
                raise slot.error
            return slot.plugin
