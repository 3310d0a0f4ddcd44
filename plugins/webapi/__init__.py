"""The web-API plugin contract: the Python twin of Flyte's ``pluginmachinery/webapi``."""

from __future__ import annotations

from plugins.webapi.config import (
    DEFAULT_PLUGIN_CONFIG,
    CachingConfig,
    PluginConfig,
    RateLimiterConfig,
    parse_duration,
)
from plugins.webapi.context import (
    DeleteContext,
    GetContext,
    StatusContext,
    TaskExecutionContext,
    TaskExecutionContextReader,
)
from plugins.webapi.plugin import (
    DEFAULT_RESOURCE_NAMESPACE,
    AsyncPlugin,
    MaybeAwaitable,
    PluginEntry,
    SyncPlugin,
    WebAPIPlugin,
    call_async,
    call_sync,
)

__all__ = [
    "DEFAULT_PLUGIN_CONFIG",
    "DEFAULT_RESOURCE_NAMESPACE",
    "AsyncPlugin",
    "CachingConfig",
    "DeleteContext",
    "GetContext",
    "MaybeAwaitable",
    "PluginConfig",
    "PluginEntry",
    "RateLimiterConfig",
    "StatusContext",
    "SyncPlugin",
    "TaskExecutionContext",
    "TaskExecutionContextReader",
    "WebAPIPlugin",
    "call_async",
    "call_sync",
    "parse_duration",
]
