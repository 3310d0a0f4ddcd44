"""Connectors over gRPC and worker-only connectors, in real workers and beat.

A real ``pyflyte serve connector`` serves flytekit's sensor and webhook and two test
connectors; the stack's connector-service section points at it. A worker also imports
a connector module that neither the client nor beat import.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plugins.core import Phase
from scheduler import Execution, PluginNotFoundError
from tests.flytekit import fktasks
from tests.flytekit.connector_server import ConnectorServer, countdown_template
from tests.flytekit.hookserver import HookServer
from tests.flytekit.serialize import literals, template
from tests.flytekit.worker_connectors import shout_template
from tests.helpers import RedisServer, wait_for
from tests.integration.stack import Stack


@pytest.fixture
def stack(redis_server: RedisServer, tmp_path: Path) -> Iterator[tuple[Stack, ConnectorServer]]:
    server = ConnectorServer(tmp_path)
    section = {
        "defaultConnector": {"endpoint": f"dns:///{server.endpoint}", "insecure": True},
        "pollInterval": "2s",
        "webApi": {"caching": {"resyncInterval": "5s"}},
    }
    stack = Stack(
        redis_server.url,
        tmp_path,
        "http://127.0.0.1:9",
        plugin_sections={"connector-service": section},
    )
    try:
        worker_env = {
            "FLYTE_CELERY_CONNECTOR_MODULES": "tests.flytekit.worker_connectors",
            "_FSEC_SHOUT_SUFFIX": "!",  # the connector's secret, where flytekit looks for it
        }
        stack.start_worker("w1", concurrency=2, env=worker_env)
        stack.start_beat("beat")
        yield stack, server
    finally:
        stack.stop()
        server.stop()


def accepted(submit: Callable[[], Execution]) -> Execution:
    """Submit once the type is served: a worker or beat publishes it within seconds."""

    def attempt() -> Execution | None:
        try:
            return submit()
        except PluginNotFoundError:
            return None

    return wait_for(attempt, timeout=120, interval=0.5, what="the task type to be served")


def test_connectors_over_grpc_and_types_that_appear_at_run_time(
    stack: tuple[Stack, ConnectorServer], hook: HookServer
) -> None:
    deployment, server = stack
    with deployment.client() as client:
        # countdown exists only in the connector server: found through ListAgents.
        countdown = accepted(
            lambda: client.submit(countdown_template(), literals(x=4, ticks=1, fail=0))
        )
        # shout exists only in the worker's connector module.
        shout = accepted(lambda: client.submit(shout_template(), literals(text="hi")))
        # The webhook is served in process too, but the connector's claim wins.
        hooks = [
            client.submit(template(fktasks.webhook(hook.url)), literals(x=n)) for n in range(3)
        ]
        doomed = client.submit(countdown_template(), literals(x=1, ticks=100_000, fail=0))
        for ex in [countdown, shout, *hooks]:
            assert ex.wait(120) is Phase.SUCCESS, ex.error()
        assert countdown.outputs().literals["o"].scalar.primitive.integer == 8
        assert shout.outputs().literals["loud"].scalar.primitive.string_value == "HI!"
        assert [ex.refresh().record.plugin_id for ex in hooks] == ["connector-service"] * 3
        assert shout.refresh().record.plugin_id == "flytekit-sync-connectors"
        wait_for(lambda: doomed.refresh().phase is Phase.RUNNING, timeout=120, what="RUNNING")
        doomed.abort("changed my mind")
        assert doomed.wait(120) is Phase.ABORTED
        job = next(
            e["job"] for e in server.events("create") if e["execution"] == doomed.record.name
        )
        wait_for(
            lambda: job in [e["job"] for e in server.events("delete")],
            timeout=60,
            what="DeleteTask for the aborted job",
        )
        with pytest.raises(PluginNotFoundError, match=r"served by running processes: .*countdown"):
            client.submit(countdown_template("no_such_type"), literals(x=1, ticks=0, fail=0))
    assert sorted(int(str(b["x"])) for b in hook.received) == [0, 1, 2]
