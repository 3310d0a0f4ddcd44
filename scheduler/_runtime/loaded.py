"""A loaded plugin: its kind (async, sync or core), decided once, and its effective config.

Callers use the typed accessor for the plugin's kind (:meth:`LoadedPlugin.as_async`...),
and each kind names its steps, its calls (for the metrics) and its rate limiters.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, cast

from plugins.core import Plugin as CorePlugin
from plugins.webapi import AsyncPlugin, PluginConfig, SyncPlugin
from scheduler._model import LimiterKind, Step

__all__ = ["LoadedPlugin", "PluginKind"]


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
