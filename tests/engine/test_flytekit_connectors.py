"""flytekit's connectors in process: the FileSensor (async) and the webhook (sync)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import PluginNotFoundError
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.flytekit import fktasks
from tests.flytekit.hookserver import HookServer
from tests.flytekit.serialize import literals, template


def test_a_file_sensor_waits_for_its_file(harness_factory, tmp_path: Path) -> None:
    h: Harness = harness_factory()
    target = tmp_path / "ready.flag"
    ex = h.client.submit(template(fktasks.file_sensor()), literals(path=str(target)))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING
    h.advance(timedelta(seconds=10))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING  # still no file
    target.write_text("go")
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.SUCCESS


def test_a_running_sensor_can_be_aborted(harness_factory, tmp_path: Path) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template(fktasks.file_sensor()), literals(path=str(tmp_path / "never")))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING
    ex.abort("no longer waiting")
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.ABORTED


def test_the_webhook_posts_and_returns_its_answer_again_and_again(
    harness_factory, hook: HookServer
) -> None:
    # Its module-level HTTP client works on the process's one event loop, call after call.
    h: Harness = harness_factory()
    webhook = template(fktasks.webhook(hook.url))
    executions = [h.client.submit(webhook, literals(x=n)) for n in range(3)]
    h.drain()
    for ex in executions:
        assert ex.refresh().phase is Phase.SUCCESS, ex.error()
        assert ex.outputs().literals["info"].WhichOneof("value") == "scalar"
    assert sorted(int(str(b["x"])) for b in hook.received) == [0, 1, 2]


def test_a_webhook_without_inputs_gets_an_empty_map_as_flytekit_gives_it(
    harness_factory, hook: HookServer
) -> None:
    # flytekit's own service passes an empty LiteralMap, never None; WebhookTask reads
    # its items unguarded ("'NoneType' object has no attribute 'items'" otherwise).
    h: Harness = harness_factory()
    ex = h.client.submit(template(fktasks.webhook_get(hook.url)), {})
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    assert hook.received == [{"get": "/hook"}]


def test_an_unknown_task_type_is_still_refused_at_submit(harness_factory) -> None:
    h: Harness = harness_factory()
    t = template(fktasks.file_sensor())
    t.type = "no_such_connector"
    with pytest.raises(PluginNotFoundError, match="no_such_connector"):
        h.client.submit(t, literals(path="/x"))
