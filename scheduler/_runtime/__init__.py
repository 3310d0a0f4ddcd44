"""Wiring of one process: Redis, storage, plugins, contexts, queues, limiters and the clock.

:class:`Runtime` builds everything a process needs from its
:class:`~scheduler.settings.Settings`; :class:`PluginSet` loads plugins and decides
each one's :class:`PluginKind` once; :class:`Contexts` builds what a plugin call
sees for one attempt.
"""

from __future__ import annotations

from scheduler._runtime.calls import CallSite, PluginCalls
from scheduler._runtime.contexts import AttemptContext, Contexts, execution_prefix
from scheduler._runtime.loaded import LoadedPlugin, PluginKind
from scheduler._runtime.plugins import PluginSet
from scheduler._runtime.queues import Queues
from scheduler._runtime.runtime import Runtime, process_runtime

__all__ = [
    "AttemptContext",
    "CallSite",
    "Contexts",
    "LoadedPlugin",
    "PluginCalls",
    "PluginKind",
    "PluginSet",
    "Queues",
    "Runtime",
    "execution_prefix",
    "process_runtime",
]
