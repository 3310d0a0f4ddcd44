"""Connectors over gRPC (``connector-service``) against a real ``pyflyte serve connector``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from plugins.core import ErrorKind, Phase
from scheduler import PluginNotFoundError
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.flytekit import fktasks
from tests.flytekit.connector_server import ConnectorServer, countdown_template
from tests.flytekit.hookserver import HookServer
from tests.flytekit.serialize import literals, template
from tests.helpers import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectorServer]:
    running = ConnectorServer(tmp_path_factory.mktemp("connectors"))
    try:
        yield running
    finally:
        running.stop()


def service(endpoint: str, **more: Any) -> dict[str, Any]:
    """A connector-service section as a Flyte user writes it."""
    section = {
        "defaultConnector": {"endpoint": endpoint, "insecure": True, "defaultTimeout": "10s"},
        "pollInterval": "1s",
        "webApi": {"caching": {"resyncInterval": "5s", "maxSystemFailures": 2}},
    }
    section.update(more)
    return {"connector-service": section}


def test_an_async_connector_found_through_list_agents_runs_over_grpc(
    harness_factory, server: ConnectorServer
) -> None:
    h: Harness = harness_factory(plugin_configs=service(f"dns:///{server.endpoint}"))
    h.tick()  # the scheduler discovers the connectors and publishes their types
    ex = h.client.submit(countdown_template(), literals(x=21, ticks=2, fail=0))
    h.until(finished(ex), step=timedelta(seconds=5))
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    assert ex.record.plugin_id == "connector-service"
    assert ex.outputs().literals["o"].scalar.primitive.integer == 42
    created = [e for e in server.events("create") if e["execution"] == ex.record.name]
    assert len(created) == 1


def test_a_type_served_in_process_too_goes_over_grpc_when_discovered(
    harness_factory, server: ConnectorServer, hook: HookServer
) -> None:
    # The webhook is also registered in this process (flytekit-sync-connectors): the
    # connector's claim wins, and the sync connector answers through ExecuteTaskSync.
    h: Harness = harness_factory(plugin_configs=service(server.endpoint))
    h.tick()
    executions = [
        h.client.submit(template(fktasks.webhook(hook.url)), literals(x=n)) for n in range(3)
    ]
    h.drain()
    for ex in executions:
        assert ex.refresh().phase is Phase.SUCCESS, ex.error()
        assert ex.record.plugin_id == "connector-service"
    assert sorted(int(str(b["x"])) for b in hook.received) == [0, 1, 2]


def test_a_failed_job_is_a_permanent_failure_with_the_connectors_message(
    harness_factory, server: ConnectorServer
) -> None:
    h: Harness = harness_factory(plugin_configs=service(server.endpoint))
    h.tick()
    template = countdown_template()
    template.metadata.retries.retries = 3
    ex = h.client.submit(template, literals(x=1, ticks=0, fail=1))
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    error = ex.record.last_error
    assert error is not None
    assert error.code == "TaskFailedWithError"
    assert error.message == "failed to run the job: the countdown broke"
    assert ex.record.attempt == 0  # permanent: no retry


def test_abort_deletes_the_connectors_job(harness_factory, server: ConnectorServer) -> None:
    h: Harness = harness_factory(plugin_configs=service(server.endpoint))
    h.tick()
    ex = h.client.submit(countdown_template(), literals(x=1, ticks=10_000, fail=0))
    h.drain()
    assert ex.refresh().phase is Phase.RUNNING
    job = next(e["job"] for e in server.events("create") if e["execution"] == ex.record.name)
    ex.abort("not needed")
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.ABORTED
    assert job in [e["job"] for e in server.events("delete")]


def test_a_call_past_its_deadline_is_a_system_error(
    harness_factory, server: ConnectorServer
) -> None:
    section = service(server.endpoint)
    section["connector-service"]["defaultConnector"]["timeouts"] = {"CreateTask": "1s"}
    h: Harness = harness_factory(plugin_configs=section)
    h.tick()
    ex = h.client.submit(countdown_template("slow_create"), literals(x=1, ticks=0, fail=0))
    h.until(finished(ex))
    error = ex.refresh().record.last_error
    assert ex.record.phase is Phase.PERMANENT_FAILURE
    assert error is not None and error.kind is ErrorKind.SYSTEM
    assert error.code == "ConnectorTimeout"
    assert "CreateTask" in error.message and "no answer within 1s" in error.message
    assert ex.record.system_failures >= 2  # retried on the system budget


def test_an_unavailable_connector_is_a_system_error(harness_factory) -> None:
    # Nothing listens there: the listed type is routed to it, and every call is UNAVAILABLE.
    section = service(f"127.0.0.1:{free_port()}", supportedTaskTypes=["countdown"])
    section["connector-service"]["defaultConnector"]["defaultTimeout"] = "2s"
    h: Harness = harness_factory(plugin_configs=section)
    h.tick()
    ex = h.client.submit(countdown_template(), literals(x=1, ticks=0, fail=0))
    h.until(finished(ex))
    error = ex.refresh().record.last_error
    assert error is not None and error.kind is ErrorKind.SYSTEM
    assert error.code in ("ConnectorUnavailable", "ConnectorTimeout")


def test_a_type_pinned_to_a_connector_that_does_not_serve_it_fails_clearly(
    harness_factory, server: ConnectorServer
) -> None:
    section = service(
        server.endpoint,
        connectors={"other": {"endpoint": server.endpoint, "insecure": True}},
        connectorForTaskTypes={"not_served_there": "other"},
    )
    h: Harness = harness_factory(plugin_configs=section)
    h.tick()
    ex = h.client.submit(countdown_template("not_served_there"), literals(x=1, ticks=0, fail=0))
    h.until(finished(ex))
    error = ex.refresh().record.last_error
    assert ex.record.phase is Phase.PERMANENT_FAILURE
    assert error is not None and error.code == "ConnectorNotFound"
    assert "connector 'other'" in error.message and "NOT_FOUND" in error.message


def test_a_type_nothing_serves_is_refused_at_submit(
    harness_factory, server: ConnectorServer
) -> None:
    h: Harness = harness_factory(plugin_configs=service(server.endpoint))
    h.tick()
    with pytest.raises(PluginNotFoundError, match=r"'nothing_serves_this'.*countdown"):
        h.client.submit(countdown_template("nothing_serves_this"), literals(x=1, ticks=0, fail=0))


def test_a_bad_section_fails_only_its_executions(harness_factory, tmp_path: Path) -> None:
    section = {"connector-service": {"defaultConnector": {"endpoint": ""}, "pollInterval": "x"}}
    h: Harness = harness_factory(plugin_configs=section)
    h.tick()
    ok = h.client.submit(template(fktasks.file_sensor()), literals(path=str(tmp_path)))
    h.until(finished(ok))
    assert ok.refresh().phase is Phase.SUCCESS
    loaded = h.runtime.plugins.loadable()
    assert "connector-service" not in [p.id for p in loaded]


def test_resource_constraints_cap_one_namespace(harness_factory, server: ConnectorServer) -> None:
    section = service(
        server.endpoint,
        resourceConstraints={"NamespaceScopeResourceConstraint": {"Value": 1}},
    )
    h: Harness = harness_factory(plugin_configs=section)
    h.tick()
    both = [
        h.client.submit(countdown_template(), literals(x=n, ticks=10_000, fail=0)) for n in (1, 2)
    ]
    h.drain()
    phases = sorted(((ex.refresh().phase.name, ex) for ex in both), key=lambda p: p[0])
    # One holds the (project, domain)'s only token; the other waits for it.
    assert [name for name, _ in phases] == ["RUNNING", "WAITING_FOR_RESOURCES"]
    running, waiting = (ex for _, ex in phases)
    running.abort("make room")
    h.until(lambda: waiting.refresh().phase is Phase.RUNNING)
    waiting.abort("done")
    h.until(finished(waiting))


def test_a_file_sensor_over_grpc_waits_for_its_file_and_can_be_aborted(
    harness_factory, server: ConnectorServer, tmp_path: Path
) -> None:
    h: Harness = harness_factory(plugin_configs=service(server.endpoint))
    h.tick()
    target = tmp_path / "arrived.flag"
    sensor = template(fktasks.file_sensor())
    waiting = h.client.submit(sensor, literals(path=str(target)))
    doomed = h.client.submit(sensor, literals(path=str(tmp_path / "never")))
    h.drain()
    assert [ex.refresh().phase for ex in (waiting, doomed)] == [Phase.RUNNING] * 2
    assert waiting.record.plugin_id == "connector-service"  # not the in-process sensor
    doomed.abort("no longer needed")
    target.write_text("here")
    h.until(lambda: waiting.refresh().record.finished and doomed.refresh().record.finished)
    assert (waiting.phase, doomed.phase) == (Phase.SUCCESS, Phase.ABORTED)
