"""Outputs as users read them: an empty result is a result, and one bad file breaks no listing."""

from __future__ import annotations

import pytest

from plugins.core import Phase
from plugins.io import OUTPUTS_SUFFIX, join_reference
from scheduler.cli import main
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template


def test_a_task_without_outputs_reads_as_an_empty_map(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("echo", inputs=()), {})
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS
    assert len(ex.outputs().literals) == 0
    assert ex.result(timeout=1) is None


def test_one_unreadable_outputs_file_does_not_break_the_listing(
    harness_factory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    h: Harness = harness_factory()
    good = h.client.submit(template("echo"), ints(x=1))
    bad = h.client.submit(template("echo"), ints(x=2))
    h.drain()
    path = join_reference(h.runtime.contexts.output_prefix(bad.refresh().record), OUTPUTS_SUFFIX)
    h.runtime.data_store.write_raw(path, b"\xff not a protobuf")
    settings = h.runtime.settings
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("FLYTE_CELERY_STORAGE", settings.storage)
    monkeypatch.setenv("FLYTE_CELERY_KEY_PREFIX", settings.key_prefix)
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert good.id in out and "x=1" in out
    assert bad.id in out and "unreadable outputs" in out


def test_outputs_that_do_not_match_the_interface_fail_the_attempt(harness_factory) -> None:
    # echo's outputs are its inputs (an int), while the task declares a string: a wrong
    # result is a failure that names the mismatch, never a SUCCESS.
    from flyteidl.core import types_pb2

    from plugins.core import ErrorKind

    h: Harness = harness_factory()
    t = template("echo")
    t.interface.outputs.variables["x"].type.simple = types_pb2.STRING
    ex = h.client.submit(t, ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "OutputsDoNotMatchInterface"
    assert err.kind is ErrorKind.USER
    assert "output 'x': expected STRING, got integer" in err.message
