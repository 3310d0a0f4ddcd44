"""The public surface that other issues and third-party plugins rely on.

Changing these names is a deliberate, changelogged act, not an accident.
"""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

import plugins.core
import plugins.io
import plugins.webapi

ROOT = Path(__file__).resolve().parents[2]

CORE = {
    "Phase", "PhaseInfo", "Transition", "TransitionType", "do_transition", "do_transition_type",
    "UNKNOWN_TRANSITION", "TaskInfo", "ExecutionError", "DEFAULT_PHASE_VERSION",
    "SYSTEM_ERROR_CODE", "ResourceNamespace", "ResourceConstraint", "ResourceConstraintsSpec",
    "AllocationStatus", "ResourceManager", "ResourceRegistrar", "TaskExecutionID",
    "TaskExecutionMetadata", "TaskOverrides", "TaskReader", "PluginStateReader",
    "PluginStateWriter", "SecretManager", "TaskExecutionContext", "PluginEntry",
    "PluginProperties", "PluginRegistry",
}  # fmt: skip
IO = {
    "InputReader", "OutputWriter", "OutputReader", "InputFilePaths", "OutputFilePaths",
    "CheckpointPaths", "RawOutputPaths", "DataStore", "RemoteFileInputReader",
    "RemoteFileOutputWriter", "RemoteFileOutputReader", "InMemoryOutputReader",
}  # fmt: skip
WEBAPI = {
    "AsyncPlugin", "SyncPlugin", "TaskExecutionContextReader", "TaskExecutionContext",
    "GetContext", "DeleteContext", "StatusContext", "PluginConfig", "RateLimiterConfig",
    "CachingConfig", "DEFAULT_PLUGIN_CONFIG", "PluginEntry",
}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "names"), [(plugins.core, CORE), (plugins.io, IO), (plugins.webapi, WEBAPI)]
)
def test_required_names_are_exported(module: object, names: set[str]) -> None:
    exported = set(module.__all__)  # type: ignore[attr-defined]
    assert names <= exported, sorted(names - exported)
    for name in exported:
        assert getattr(module, name) is not None


def test_design_card_layout() -> None:
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
