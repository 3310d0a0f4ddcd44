"""Flyte 2's connectors in process: flyte.connectors.AsyncConnector served by its task type."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from flyteidl2.task import common_pb2

from plugins.core import Phase
from plugins.flyte2.connectors import PLUGIN_ID
from plugins.flyte2.idl import template_v1
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.flyte2 import jobs


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jobs.TOKEN_VARIABLE, "sesame")


def test_a_flyte2_connector_runs_from_a_flyteidl2_template(harness_factory, tmp_path: Path) -> None:
    h: Harness = harness_factory()
    assert h.runtime.plugins.get(PLUGIN_ID) is not None
    ex = h.client.submit(jobs.template(tmp_path, polls=3), {"x": jobs.integer(21)})
    h.until(finished(ex), step=timedelta(seconds=1))
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    assert ex.result(timeout=5) == 42
    assert ex.record.task_name == "tests.flyte2.jobs.double"
    state = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert state["polls"] == 3 and state["x"] == 21
    # Phases as Propeller maps a connector's Resource, with the connector's log link.
    info = ex.phase_info
    assert info is not None and [log.uri for log in info.info.logs][:1] == [
        f"http://jobs.example/{next(tmp_path.glob('*.json')).stem}"
    ]


def test_inputs_as_flyteidl2_inputs_and_python_values(harness_factory, tmp_path: Path) -> None:
    h: Harness = harness_factory()
    template = jobs.template(tmp_path)
    named = common_pb2.Inputs(literals=[common_pb2.NamedLiteral(name="x", value=jobs.integer(4))])
    a = h.client.submit(template, named)
    b = h.client.submit(template_v1(template), {"x": 5})
    h.until(finished(a))
    h.until(finished(b))
    assert (a.result(timeout=5), b.result(timeout=5)) == (8, 10)


def test_abort_deletes_the_job(harness_factory, tmp_path: Path) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(jobs.template(tmp_path, polls=1000), {"x": jobs.integer(1)})
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING
    ex.abort("enough")
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.ABORTED
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["state"] == "DELETED"


def test_a_missing_secret_fails_the_attempt_by_name(
    harness_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(jobs.TOKEN_VARIABLE)
    h: Harness = harness_factory()
    ex = h.client.submit(jobs.template(tmp_path), {"x": jobs.integer(1)})
    h.until(finished(ex))
    err = ex.refresh().error()
    assert ex.phase is Phase.PERMANENT_FAILURE and err is not None
    assert jobs.TOKEN_VARIABLE in err.message and "token" in err.message
    assert not list(tmp_path.glob("*.json"))  # no job was made


def test_a_connector_that_raises_fails_with_its_message(
    harness_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(jobs.TOKEN_VARIABLE, "wrong")
    h: Harness = harness_factory()
    ex = h.client.submit(jobs.template(tmp_path), {"x": jobs.integer(1)})
    h.until(finished(ex))
    err = ex.refresh().error()
    assert ex.phase is Phase.PERMANENT_FAILURE and err is not None
    assert "bad token 'wrong'" in err.message
