"""PluginRegistry: entry points, specs, duplicates, defaults, lazy loading."""

from __future__ import annotations

import importlib
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from plugins.core import (
    ENTRY_POINT_GROUP,
    PhaseInfo,
    PluginEntry,
    PluginProperties,
    PluginRegistry,
    PluginSetupContext,
    ResourceNamespace,
    Transition,
    do_transition,
)
from plugins.core.context import TaskExecutionContext
from plugins.core.registry import parse_plugin_specs
from plugins.errors import (
    ConfigError,
    DuplicatePluginError,
    PluginError,
    PluginLoadError,
    PluginNotFoundError,
)
from plugins.webapi import PluginConfig, SyncPlugin
from plugins.webapi import PluginEntry as WebAPIPluginEntry
from plugins.webapi import TaskExecutionContext as WebAPIContext


class CorePlugin:
    def __init__(self, plugin_id: str, name_length: int | None = None) -> None:
        self.plugin_id = plugin_id
        self.name_length = name_length

    def get_id(self) -> str:
        return self.plugin_id

    def get_properties(self) -> PluginProperties:
        return PluginProperties(generated_name_max_length=self.name_length)

    def handle(self, ctx: TaskExecutionContext) -> Transition:
        del ctx
        return do_transition(PhaseInfo.success())

    def abort(self, ctx: TaskExecutionContext) -> None:
        del ctx

    def finalize(self, ctx: TaskExecutionContext) -> None:
        del ctx


def core_entry(plugin_id: str, types: list[str], **kw: Any) -> PluginEntry:
    return PluginEntry(plugin_id, types, lambda: CorePlugin(plugin_id), **kw)


def test_resolves_the_only_plugin_for_a_type() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["t1", "t2"]))
    registry.register(core_entry("b", ["t3"]))
    assert registry.resolve("t2").get_id() == "a"
    assert registry.resolve("t3").get_id() == "b"
    assert registry.task_types() == {"t1", "t2", "t3"}
    assert registry.ids == ["a", "b"]


def test_duplicate_ids_are_rejected() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["t1"]))
    with pytest.raises(DuplicatePluginError, match="'a'"):
        registry.register(core_entry("a", ["t2"]))


def test_at_most_one_default() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["t1"], is_default=True))
    with pytest.raises(DuplicatePluginError, match="already is"):
        registry.register(core_entry("b", ["t2"], is_default=True))


def test_unknown_type_falls_back_to_the_default_plugin() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("fallback", ["x"], is_default=True))
    assert registry.resolve("never-registered").get_id() == "fallback"


def test_unknown_type_without_default_is_a_clear_error() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["t1"]))
    with pytest.raises(PluginNotFoundError) as info:
        registry.resolve("bigquery_query_job_task")
    message = str(info.value)
    assert "'bigquery_query_job_task'" in message and "t1" in message
    assert info.value.code == "UnknownTaskType"


def test_default_for_task_types_breaks_ties() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["shared"]))
    registry.register(core_entry("b", ["shared"], default_for_task_types=["shared"]))
    assert registry.resolve("shared").get_id() == "b"
    assert registry.entry_for("shared").id == "b"


def test_ties_without_a_choice_are_an_error() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["shared"]))
    registry.register(core_entry("b", ["shared"]))
    with pytest.raises(PluginError, match="default_for_task_types"):
        registry.resolve("shared")


def test_two_defaults_for_one_type_are_an_error() -> None:
    registry = PluginRegistry()
    registry.register(core_entry("a", ["shared"], default_for_task_types=["shared"]))
    registry.register(core_entry("b", ["shared"], default_for_task_types=["shared"]))
    with pytest.raises(PluginError, match="several default plugins"):
        registry.resolve("shared")


def test_default_for_a_type_not_handled_is_rejected() -> None:
    with pytest.raises(PluginError, match="does not handle"):
        PluginRegistry().register(core_entry("a", ["t1"], default_for_task_types=["t2"]))


def test_loader_is_lazy_and_called_exactly_once_across_threads() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def loader(setup: PluginSetupContext) -> CorePlugin:
        assert setup.plugin_id == "lazy"
        calls.append(1)
        gate.wait(5)
        return CorePlugin("lazy")

    registry = PluginRegistry()
    registry.register(PluginEntry("lazy", ["t"], loader))
    assert calls == []  # registering does not load
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(registry.resolve("t"))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(10)
    assert len(calls) == 1
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_a_failed_loader_is_not_retried_and_its_error_names_the_plugin() -> None:
    calls: list[int] = []

    def loader() -> CorePlugin:
        calls.append(1)
        raise RuntimeError("credentials missing")

    registry = PluginRegistry()
    registry.register(PluginEntry("broken", ["t"], loader))
    for _ in range(3):
        with pytest.raises(PluginLoadError, match=r"'broken'.*credentials missing"):
            registry.resolve("t")
    assert calls == [1]


def test_generated_name_max_length_is_checked_at_load() -> None:
    registry = PluginRegistry()
    registry.register(PluginEntry("ok", ["ok"], lambda: CorePlugin("ok", 10)))
    registry.register(PluginEntry("short", ["short"], lambda: CorePlugin("short", 5)))
    assert registry.resolve("ok").get_id() == "ok"
    with pytest.raises(PluginLoadError, match="greater than 8"):
        registry.resolve("short")


def test_loader_returning_a_non_plugin_is_rejected() -> None:
    registry = PluginRegistry()
    registry.register(PluginEntry("bad", ["t"], object))  # type: ignore[arg-type,return-value]
    with pytest.raises(PluginLoadError, match="lacks"):
        registry.get_plugin("bad")
    with pytest.raises(PluginNotFoundError, match="no plugin with id"):
        registry.get_plugin("missing")


def test_registering_a_non_entry_is_rejected() -> None:
    with pytest.raises(PluginError, match="not a PluginEntry"):
        PluginRegistry().register(object())  # type: ignore[arg-type]


# -- specs and entry points ----------------------------------------------------------------------


class Echo(SyncPlugin):
    def get_config(self) -> PluginConfig:
        return PluginConfig(resource_quotas={"default": 3, "us": 7})

    def do(self, ctx: WebAPIContext) -> PhaseInfo:
        del ctx
        return PhaseInfo.success()


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A real importable module with entries, and a dist-info publishing them as entry points."""
    name = f"fc_test_plugins_{abs(hash(tmp_path)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            from plugins.core import PhaseInfo
            from plugins.webapi import PluginEntry, SyncPlugin

            class Echo(SyncPlugin):
                def do(self, ctx):
                    return PhaseInfo.success()

            ENTRY = PluginEntry(id="ep-echo", supported_task_types=["ep-echo"],
                                plugin_loader=lambda: Echo())
            MORE = [PluginEntry(id="ep-two", supported_task_types=["two"], plugin_loader=Echo),
                    PluginEntry(id="ep-three", supported_task_types=["three"], plugin_loader=Echo)]
            def make():
                return PluginEntry(id="ep-made", supported_task_types=["made"], plugin_loader=Echo)
            NOT_AN_ENTRY = 42
            """
        )
    )
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\necho = {name}:ENTRY\nmore = {name}:MORE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield name
    sys.modules.pop(name, None)


def test_entry_points_are_discovered(plugin_module: str) -> None:
    registry = PluginRegistry()
    ids = registry.load_entry_points()
    assert {"ep-echo", "ep-two", "ep-three"} <= set(ids)
    assert isinstance(registry.resolve("ep-echo"), SyncPlugin)


def test_specs_load_entries_lists_and_factories(plugin_module: str) -> None:
    registry = PluginRegistry()
    ids = registry.load_specs(f"{plugin_module}:ENTRY, {plugin_module}:MORE,{plugin_module}:make")
    assert ids == ["ep-echo", "ep-two", "ep-three", "ep-made"]
    assert isinstance(registry.resolve("made"), SyncPlugin)


def test_bad_specs_are_clear_errors(plugin_module: str) -> None:
    registry = PluginRegistry()
    with pytest.raises(ConfigError, match="module:attribute"):
        registry.load_specs("no_colon_here")
    with pytest.raises(PluginLoadError, match="cannot import 'does_not_exist_mod'"):
        registry.load_specs("does_not_exist_mod:X")
    with pytest.raises(PluginLoadError, match="has no attribute 'MISSING'"):
        registry.load_specs(f"{plugin_module}:MISSING")
    with pytest.raises(PluginLoadError, match="got int"):
        registry.load_specs(f"{plugin_module}:NOT_AN_ENTRY")


def test_parse_plugin_specs() -> None:
    assert parse_plugin_specs(" a.b:c , d:e.f,,") == ["a.b:c", "d:e.f"]
    assert parse_plugin_specs(["x:y"]) == ["x:y"]


# -- web-API entries: config validation and quota registration -----------------------------------


class RecordingRegistrar:
    def __init__(self) -> None:
        self.quotas: dict[str, int] = {}

    def register_resource_quota(self, namespace: ResourceNamespace, quota: int) -> None:
        self.quotas[str(namespace)] = quota


def test_webapi_quotas_are_registered_under_the_plugin_id() -> None:
    registrar = RecordingRegistrar()
    registry = PluginRegistry(PluginSetupContext(resource_registrar=registrar))
    registry.register(WebAPIPluginEntry("echo", ["echo"], Echo))
    assert registrar.quotas == {}  # lazy
    registry.load_all()
    assert registrar.quotas == {"echo:default": 3, "echo:us": 7}


def test_webapi_entry_rejects_invalid_configs_and_non_plugins() -> None:
    class BadConfig(Echo):
        def get_config(self) -> PluginConfig:
            return PluginConfig.model_construct(
                caching=PluginConfig().caching.model_copy(update={"size": 1})
            )

    registry = PluginRegistry()
    registry.register(WebAPIPluginEntry("bad-config", ["a"], BadConfig))
    registry.register(WebAPIPluginEntry("not-plugin", ["b"], lambda: "nope"))  # type: ignore[arg-type,return-value]
    with pytest.raises(PluginLoadError, match="cache size is expected to be between 10 and 500000"):
        registry.resolve("a")
    with pytest.raises(PluginLoadError, match="neither an AsyncPlugin"):
        registry.resolve("b")


def test_one_published_entry_loads_alone() -> None:
    from plugins.builtin.echo import ECHO

    assert PluginRegistry.published_entry("echo") is ECHO
    # A factory of entries (the flytekit connectors') or no such entry point: the registry's.
    assert PluginRegistry.published_entry("flytekit-connectors") is None
    assert PluginRegistry.published_entry("no-such-plugin") is None
