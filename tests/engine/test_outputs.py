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
