"""The public surface that other issues and third-party plugins rely on.

Changing these names is a deliberate, changelogged act, not an accident. Each
package's ``__all__`` is pinned exactly (as the Temporal SDK pins its exports):
adding a name fails as loudly as removing one, so a new export is a decision made
here, in review, with its CHANGELOG entry. Internals stay importable from their
submodules (``plugins.io.paths``, ``plugins.core.registry``, ...).
"""

from __future__ import annotations

import importlib
import tomllib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# -- plugins pins ----------------------------------------------------------------------------------
# One exact set per public package, in the package's own ``__all__`` order.

CORE = frozenset({
    "DEFAULT_NODE_ID", "DEFAULT_PHASE_VERSION", "ENTRY_POINT_GROUP",
    "GENERATED_NAME_MAX_LENGTH", "MAX_PHASE_VERSION", "MAX_RESOURCE_QUOTA",
    "MIN_GENERATED_NAME_LENGTH", "SYSTEM_ERROR_CODE", "UNKNOWN_TRANSITION", "AllocationStatus",
    "ChainedSecretManager", "EnvSecretManager", "ErrorAggregationStrategy", "ErrorKind",
    "EventsRecorder", "ExecutionError", "ExternalResource", "FileSecretManager", "Phase",
    "PhaseInfo", "Plugin", "PluginEntry", "PluginProperties", "PluginRegistry",
    "PluginSetupContext", "PluginState", "PluginStateReader", "PluginStateWriter", "ReasonInfo",
    "ResourceConstraint", "ResourceConstraintsSpec", "ResourceManager", "ResourceNamespace",
    "ResourceRegistrar", "SecretManager", "SignalAsync", "TaskExecutionContext",
    "TaskExecutionID", "TaskExecutionMetadata", "TaskInfo", "TaskOverrides", "TaskReader",
    "TaskTypeRouter", "Transition", "TransitionType", "do_transition", "do_transition_type",
    "secret_key",
})  # fmt: skip

IO = frozenset({
    "DECK_SUFFIX", "ERRORS_SUFFIX", "FUTURES_SUFFIX", "INPUTS_SUFFIX", "OUTPUTS_SUFFIX",
    "TASK_TEMPLATE_SUFFIX", "CheckpointPaths", "DataReference", "DataStore", "ErrorReader",
    "InMemoryOutputReader", "InputFilePaths", "InputReader", "Metadata", "OutputFilePaths",
    "OutputReader", "OutputWriter", "RawOutputPaths", "RemoteFileInputReader",
    "RemoteFileOutputPaths", "RemoteFileOutputReader", "RemoteFileOutputWriter",
    "join_reference",
})  # fmt: skip

WEBAPI = frozenset({
    "DEFAULT_PLUGIN_CONFIG", "DEFAULT_RESOURCE_NAMESPACE", "AsyncPlugin", "CachingConfig",
    "DeleteContext", "GetContext", "MaybeAwaitable", "PluginConfig", "PluginEntry",
    "RateLimiterConfig", "StatusContext", "SyncPlugin", "TaskExecutionContext",
    "TaskExecutionContextReader", "WebAPIPlugin", "call_async", "call_sync", "parse_duration",
})  # fmt: skip

TASKS = frozenset({
    "PYTHON_TASK_TYPE", "DefaultTaskResolver", "Directory", "Documentation",
    "ExecutionFailedError", "ExecutionParameters", "File", "IgnoreOutputs", "Interface",
    "PythonFunctionTask", "PythonTask", "Secret", "SerializationSettings", "Task", "TaskLoadError",
    "TaskMetadata", "TaskResolverMixin", "TransformContext", "TypeEngine", "TypeTransformer",
    "current_context", "default_task_resolver", "kwtypes", "task",
    "transform_function_to_interface", "transform_interface_to_typed_interface",
})  # fmt: skip

ERRORS = frozenset({
    "AccessDeniedError", "BackendUnavailableError", "ConfigError", "ContentionError",
    "DuplicatePluginError", "ExecutionExistsError",
    "ExecutionFailedError", "ExecutionNotFoundError", "ExecutionTimeoutError",
    "FlyteCeleryError",
    "InputConversionError", "InputReadError", "InvalidPhaseError", "InvalidSubmissionError",
    "JobFailedError", "MalformedProtobufError", "OutputConversionError", "PluginConfigError",
    "PluginError",
    "PluginLoadError", "PluginNotFoundError", "PluginStateError", "RemoteCallError",
    "RemoteFileExceedsMaxSizeError", "RemoteFileNotFoundError", "SecretNotFoundError",
    "StorageError", "TaskError", "TaskLoadError",
})  # fmt: skip

BUILTIN = frozenset({
    "ECHO", "PYTHON_TASK", "SLEEP", "EchoPlugin", "EchoTask", "PythonTaskPlugin", "SleepHandle",
    "SleepPlugin", "SleepTask", "TaskIsolation", "TaskLauncher",
})  # fmt: skip


PLUGINS_PINS: dict[str, frozenset[str]] = {
    "plugins.core": CORE,
    "plugins.io": IO,
    "plugins.webapi": WEBAPI,
    "plugins.tasks": TASKS,
    "plugins.errors": ERRORS,
    "plugins.builtin": BUILTIN,
}

# -- scheduler pins --------------------------------------------------------------------------------
# The user's API is the top of ``scheduler``; the other public subpackages are what a
# process or a plugin author's test starts from. The layers (``scheduler._model``,
# ``_backend``, ``_runtime``, ``_engine``, ``_steps``, ``_client``) are private: their
# boundaries are kept by tests/unit/test_layout.py, not pinned here.
SCHEDULER_PINS: dict[str, frozenset[str]] = {
    # The Client, its Execution handle, and every type they take or return.
    "scheduler": frozenset({
        "AccessDeniedError", "BackendUnavailableError", "CacheStatus", "Client", "Clock",
        "ConfigError", "ContentionError", "Cursor", "Event", "Execution", "ExecutionError",
        "ExecutionExistsError", "ExecutionFailedError", "ExecutionFilter",
        "ExecutionNotFoundError", "ExecutionRecord", "ExecutionTimeoutError",
        "FlyteCeleryError", "InvalidSubmissionError", "ManualClock", "Phase", "PhaseCount",
        "PhaseInfo", "PluginNotFoundError", "RemoteClient", "Settings", "StorageError",
        "Submission", "acting_as",
    }),
    "scheduler.testing": frozenset({"Harness", "PublishedJob", "RedisServer"}),
    "scheduler.cli": frozenset({"main", "parse_input", "table"}),
    "scheduler.clock": frozenset({"Clock", "ManualClock", "utcnow"}),
    "scheduler.settings": frozenset({
        "RetryPolicy", "Settings", "default_storage", "masked_url", "normalize_tls",
        "with_password",
    }),
    "scheduler.console": frozenset({
        "Console", "DeploymentCollector", "Users", "console_app", "metrics_registry",
        "serve_console", "serve_metrics",
    }),
    "scheduler.metrics": frozenset({
        "CACHE_HITS", "CACHE_MISSES", "LEADER", "PLUGIN_CALLS_RUNNING", "PLUGIN_CALLS_WAITING",
        "PLUGIN_LATENCY", "PLUGIN_REQUESTS_FAILURE",
        "PLUGIN_REQUESTS_SUCCESS", "RATE_LIMITER_WAIT", "RESOURCE_WAIT", "TICK_DURATION",
        "job_failures", "note_failure", "plugin_call", "process_ended", "processes_registry",
        "serve_process_metrics", "zero_series",
    }),
    "worker": frozenset({"app"}),
}  # fmt: skip

PINS: dict[str, frozenset[str]] = {**PLUGINS_PINS, **SCHEDULER_PINS}


@pytest.mark.parametrize(("module_name", "expected"), PINS.items(), ids=list(PINS))
def test_exports_are_pinned_exactly(module_name: str, expected: frozenset[str]) -> None:
    exported = importlib.import_module(module_name).__all__
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ repeats a name"
    added = sorted(set(exported) - expected)
    removed = sorted(expected - set(exported))
    assert not added and not removed, (
        f"{module_name}.__all__ changed: added {added}, removed {removed}. If this is "
        "deliberate, update the pin in tests/unit/test_public_api.py and the CHANGELOG."
    )


@pytest.mark.parametrize(("module_name", "expected"), PINS.items(), ids=list(PINS))
def test_every_export_resolves(module_name: str, expected: frozenset[str]) -> None:
    # ``from module import *`` resolves every name of __all__ exactly like this.
    module = importlib.import_module(module_name)
    unresolved = sorted(
        name for name in expected | set(module.__all__) if not hasattr(module, name)
    )
    assert not unresolved, f"{module_name} exports names that do not resolve: {unresolved}"


PACKAGES = [m for m in PINS if hasattr(importlib.import_module(m), "__path__")]


@pytest.mark.parametrize("module_name", PACKAGES)
def test_nothing_public_leaks_past_all(module_name: str) -> None:
    # A name imported into a package's namespace but left out of __all__ is still
    # reachable as ``package.name``; keep each namespace to __all__ and submodules.
    module = importlib.import_module(module_name)
    leaked = sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and name != "annotations"  # from __future__
        and not isinstance(value, types.ModuleType)
        and name not in module.__all__
    )
    assert not leaked, f"{module_name} exposes names outside __all__: {leaked}"


def test_top_level_layout() -> None:
    for path in ("pyproject.toml", "README.md", "CHANGELOG.md", ".ci/run", "plugins/py.typed"):
        assert (ROOT / path).is_file(), path
    for package in ("plugins", "scheduler", "worker"):
        assert (ROOT / package / "__init__.py").is_file()
        importlib.import_module(package)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "flyte-celery"
    assert project["requires-python"] == ">=3.11"


def test_plugins_imports_nothing_above_it() -> None:
    # Imports flow worker -> scheduler -> plugins; plugins must not import upwards.
    for source in (ROOT / "plugins").rglob("*.py"):
        text = source.read_text()
        for upper in ("scheduler", "worker"):
            assert f"import {upper}" not in text and f"from {upper}" not in text, source


def test_an_unknown_scheduler_name_is_an_attribute_error() -> None:
    import scheduler

    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        _ = scheduler.Nonexistent  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("scheduler", "ExecutionStore"),
        ("scheduler", "WebAPIState"),
        ("scheduler", "Outbox"),
        ("plugins.io", "BufferedOutputWriter"),
        ("plugins.core", "parse_plugin_specs"),
    ],
)
def test_a_name_a_package_does_not_export_is_an_attribute_error(package: str, name: str) -> None:
    # Never released under these packages' names (0.1.0.dev0, no tags): no shims, no warnings.
    module = importlib.import_module(package)
    assert name not in module.__all__
    with pytest.raises(AttributeError, match=f"has no attribute {name!r}"):
        getattr(module, name)
