"""scheduler._runtime.PluginKind: a plugin's kind is decided once, by the same rule as ever."""

from __future__ import annotations

from plugins.builtin.echo import EchoPlugin
from plugins.builtin.sleep import SleepPlugin
from scheduler._model import Step
from scheduler._runtime import PluginKind
from tests.core_rounds import CountingCorePlugin


class DuckAsync:
    """Async by shape: no get_config, no base class."""

    def create(self) -> None: ...
    def get(self) -> None: ...
    def delete(self) -> None: ...
    def status(self) -> None: ...


class ConfigOnly:
    def get_config(self) -> None: ...


def test_kinds_and_their_launch_steps() -> None:
    assert PluginKind.of(SleepPlugin()) is PluginKind.ASYNC
    assert PluginKind.of(EchoPlugin()) is PluginKind.SYNC
    assert PluginKind.of(CountingCorePlugin()) is PluginKind.CORE
    assert [k.launch_step for k in PluginKind] == [Step.CREATE, Step.DO, Step.HANDLE]


def test_shapes_without_a_base_class_keep_the_old_rule() -> None:
    # Not a core plugin (no handle): launched with Create, as before the layout change.
    assert PluginKind.of(DuckAsync()) is PluginKind.ASYNC
    # Neither create nor do: still Create, whose failure then names the problem.
    assert PluginKind.of(ConfigOnly()) is PluginKind.ASYNC
