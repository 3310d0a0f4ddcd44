"""The core plugin machinery: the Python twin of Flyte's ``pluginmachinery/core``.

Phases and phase information, transitions, quota types, the execution context,
plugin entries and the plugin registry. Nothing here talks to Redis or Celery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING as _TYPE_CHECKING

from plugins.exports import lazy_exports as _lazy_exports

if _TYPE_CHECKING:
    from plugins.core.context import EventsRecorder, SignalAsync, TaskExecutionContext
    from plugins.core.execution_id import (
        DEFAULT_NODE_ID,
        GENERATED_NAME_MAX_LENGTH,
        MIN_GENERATED_NAME_LENGTH,
        TaskExecutionID,
    )
    from plugins.core.metadata import TaskExecutionMetadata, TaskOverrides, TaskReader
    from plugins.core.phase import (
        DEFAULT_PHASE_VERSION,
        MAX_PHASE_VERSION,
        SYSTEM_ERROR_CODE,
        ErrorKind,
        ExecutionError,
        Phase,
    )
    from plugins.core.phase_info import PhaseInfo
    from plugins.core.plugin import (
        ErrorAggregationStrategy,
        Plugin,
        PluginEntry,
        PluginProperties,
        PluginSetupContext,
        TaskTypeRouter,
    )
    from plugins.core.registry import ENTRY_POINT_GROUP, PluginRegistry
    from plugins.core.resources import (
        MAX_RESOURCE_QUOTA,
        AllocationStatus,
        ResourceConstraint,
        ResourceConstraintsSpec,
        ResourceManager,
        ResourceNamespace,
        ResourceRegistrar,
    )
    from plugins.core.secrets import (
        ChainedSecretManager,
        EnvSecretManager,
        FileSecretManager,
        SecretManager,
        secret_key,
    )
    from plugins.core.state import PluginState, PluginStateReader, PluginStateWriter
    from plugins.core.taskinfo import ExternalResource, ReasonInfo, TaskInfo
    from plugins.core.transition import (
        UNKNOWN_TRANSITION,
        Transition,
        TransitionType,
        do_transition,
        do_transition_type,
    )

__all__ = [
    "DEFAULT_NODE_ID",
    "DEFAULT_PHASE_VERSION",
    "ENTRY_POINT_GROUP",
    "GENERATED_NAME_MAX_LENGTH",
    "MAX_PHASE_VERSION",
    "MAX_RESOURCE_QUOTA",
    "MIN_GENERATED_NAME_LENGTH",
    "SYSTEM_ERROR_CODE",
    "UNKNOWN_TRANSITION",
    "AllocationStatus",
    "ChainedSecretManager",
    "EnvSecretManager",
    "ErrorAggregationStrategy",
    "ErrorKind",
    "EventsRecorder",
    "ExecutionError",
    "ExternalResource",
    "FileSecretManager",
    "Phase",
    "PhaseInfo",
    "Plugin",
    "PluginEntry",
    "PluginProperties",
    "PluginRegistry",
    "PluginSetupContext",
    "PluginState",
    "PluginStateReader",
    "PluginStateWriter",
    "ReasonInfo",
    "ResourceConstraint",
    "ResourceConstraintsSpec",
    "ResourceManager",
    "ResourceNamespace",
    "ResourceRegistrar",
    "SecretManager",
    "SignalAsync",
    "TaskExecutionContext",
    "TaskExecutionID",
    "TaskExecutionMetadata",
    "TaskInfo",
    "TaskOverrides",
    "TaskReader",
    "TaskTypeRouter",
    "Transition",
    "TransitionType",
    "do_transition",
    "do_transition_type",
    "secret_key",
]


_EXPORTS = {
    "plugins.core.context": ("EventsRecorder", "SignalAsync", "TaskExecutionContext"),
    "plugins.core.execution_id": (
        "DEFAULT_NODE_ID",
        "GENERATED_NAME_MAX_LENGTH",
        "MIN_GENERATED_NAME_LENGTH",
        "TaskExecutionID",
    ),
    "plugins.core.metadata": ("TaskExecutionMetadata", "TaskOverrides", "TaskReader"),
    "plugins.core.phase": (
        "DEFAULT_PHASE_VERSION",
        "MAX_PHASE_VERSION",
        "SYSTEM_ERROR_CODE",
        "ErrorKind",
        "ExecutionError",
        "Phase",
    ),
    "plugins.core.phase_info": ("PhaseInfo",),
    "plugins.core.plugin": (
        "ErrorAggregationStrategy",
        "Plugin",
        "PluginEntry",
        "PluginProperties",
        "PluginSetupContext",
        "TaskTypeRouter",
    ),
    "plugins.core.registry": ("ENTRY_POINT_GROUP", "PluginRegistry"),
    "plugins.core.resources": (
        "MAX_RESOURCE_QUOTA",
        "AllocationStatus",
        "ResourceConstraint",
        "ResourceConstraintsSpec",
        "ResourceManager",
        "ResourceNamespace",
        "ResourceRegistrar",
    ),
    "plugins.core.secrets": (
        "ChainedSecretManager",
        "EnvSecretManager",
        "FileSecretManager",
        "SecretManager",
        "secret_key",
    ),
    "plugins.core.state": ("PluginState", "PluginStateReader", "PluginStateWriter"),
    "plugins.core.taskinfo": ("ExternalResource", "ReasonInfo", "TaskInfo"),
    "plugins.core.transition": (
        "UNKNOWN_TRANSITION",
        "Transition",
        "TransitionType",
        "do_transition",
        "do_transition_type",
    ),
}

__getattr__ = _lazy_exports(__name__, _EXPORTS)
