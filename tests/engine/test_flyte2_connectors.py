"""Flyte 2's connectors in process: flyte.connectors.AsyncConnector served by its task type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flyteidl2.task import common_pb2

from plugins.core import Phase
from plugins.errors import ConfigError, InvalidSubmissionError
from plugins.flyte2.connectors import PLUGIN_ID
from plugins.flyte2.idl import template_v1
from plugins.flytekit.service.config import Protocol, parse_service_config
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.flyte2 import jobs
from tests.flyte2.server import Flyte2ConnectorServer


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(jobs.SECRET_ENV, "sesame")


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
    monkeypatch.delenv(jobs.SECRET_ENV)
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
    monkeypatch.setenv(jobs.SECRET_ENV, "wrong")
    h: Harness = harness_factory()
    ex = h.client.submit(jobs.template(tmp_path), {"x": jobs.integer(1)})
    h.until(finished(ex))
    err = ex.refresh().error()
    assert ex.phase is Phase.PERMANENT_FAILURE and err is not None
    assert "bad token 'wrong'" in err.message


@pytest.fixture(scope="module")
def flyte2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flyte2ConnectorServer]:
    running = Flyte2ConnectorServer(tmp_path_factory.mktemp("flyte2"))
    try:
        yield running
    finally:
        running.stop()


def test_a_flyte2_connector_runs_over_grpc_in_flyteidl2(
    harness_factory, tmp_path: Path, flyte2_server: Flyte2ConnectorServer
) -> None:
    deployment = {"endpoint": flyte2_server.endpoint, "insecure": True, "protocol": "flyteidl2"}
    section = {"connectors": {"flyte2": deployment}, "pollInterval": "1s"}
    h: Harness = harness_factory(plugin_configs={"connector-service": section})
    h.tick()  # the scheduler asks the deployment for its connectors (ListConnectors)
    done = h.client.submit(jobs.template(tmp_path, polls=2), {"x": jobs.integer(21)})
    held = h.client.submit(jobs.template(tmp_path, polls=1000), {"x": jobs.integer(1)})
    h.until(finished(done), step=timedelta(seconds=1))
    assert done.refresh().phase is Phase.SUCCESS, done.error()
    assert done.record.plugin_id == "connector-service" and done.result(timeout=5) == 42
    assert held.refresh().phase is Phase.RUNNING
    held.abort("enough")
    h.until(finished(held))
    assert held.refresh().phase is Phase.ABORTED
    states = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert sorted(s["state"] for s in states) == ["DELETED", "SUCCEEDED"]
    assert {s["pid"] for s in states} == {flyte2_server.process.pid}  # the server made them


def test_flyteidl2_is_a_protocol_a_deployment_names() -> None:
    with pytest.raises(ConfigError, match="protocol"):
        parse_service_config({"defaultConnector": {"endpoint": "x:1", "protocol": "flyteidl3"}})
    parsed = parse_service_config({"defaultConnector": {"endpoint": "x:1"}})
    assert parsed.deployments["default"].protocol is Protocol.FLYTEIDL


def test_a_flyteidl2_setting_that_would_not_be_enforced_is_refused_at_submit(
    harness_factory, tmp_path: Path
) -> None:
    h: Harness = harness_factory()
    template = jobs.template(tmp_path)
    template.metadata.timeouts.deadline.seconds = 60
    with pytest.raises(InvalidSubmissionError, match=r"metadata\.timeouts\.deadline"):
        h.client.submit(template, {"x": jobs.integer(1)})
