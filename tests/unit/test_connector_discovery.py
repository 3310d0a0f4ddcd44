"""Connector discovery: ListAgents rounds, refreshes, and a deployment that stops answering."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flyteidl.admin import agent_pb2

from plugins.errors import RemoteCallError
from plugins.flytekit.service.config import Deployment, parse_service_config
from plugins.flytekit.service.discovery import Discovered, Discovery


def agent(name: str, *types: str, is_sync: bool = False) -> agent_pb2.Agent:
    categories = [agent_pb2.TaskCategory(name=t) for t in types]
    return agent_pb2.Agent(name=name, is_sync=is_sync, supported_task_categories=categories)


class Answers:
    """ListAgents answers per deployment, round after round (an exception: no answer)."""

    def __init__(self, rounds: dict[str, list[list[agent_pb2.Agent] | Exception]]) -> None:
        self.rounds = rounds

    def list_agents(self, deployment: Deployment) -> list[agent_pb2.Agent]:
        queue = self.rounds[deployment.name]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Rounds:
    """An injected wait: lets the test run one discovery round at a time."""

    def __init__(self) -> None:
        self.go = threading.Semaphore(0)
        self.parked = threading.Semaphore(0)
        self.finished = False

    def wait(self, pause: timedelta) -> bool:
        assert pause == timedelta(seconds=7)  # the configured pollInterval
        self.parked.release()
        self.go.acquire()
        return self.finished

    def next(self) -> None:
        """Wait until the thread is between rounds, then let it do one more."""
        assert self.parked.acquire(timeout=30)
        self.go.release()
        assert self.parked.acquire(timeout=30)
        self.parked.release()  # it is parked again: the next call sees that

    def finish(self) -> None:
        self.finished = True
        self.go.release()


CONFIG = parse_service_config(
    {
        "defaultConnector": {"endpoint": "a:1"},
        "connectors": {"other": {"endpoint": "b:2"}},
        "pollInterval": "7s",
    }
)


def test_types_are_refreshed_every_poll_interval_and_kept_while_a_deployment_is_away() -> None:
    down = RemoteCallError(
        "ListAgents to connector 'other': UNAVAILABLE", code="ConnectorUnavailable"
    )
    answers = Answers(
        {
            "default": [
                [agent("Sensor", "sensor")],
                [agent("Sensor", "sensor"), agent("Webhook", "webhook", is_sync=True)],
            ],
            "other": [[agent("BQ", "bigquery", "sensor")], down, down],
        }
    )
    rounds = Rounds()
    discovery = Discovery(CONFIG, answers, rounds.wait)  # type: ignore[arg-type]
    first = discovery.types(timedelta(seconds=30))
    assert first == {
        "sensor": Discovered("default", False),  # the default deployment wins a shared type
        "bigquery": Discovered("other", False),
    }
    rounds.next()  # the second round: a new connector; "other" stops answering
    assert discovery.types() == {
        "sensor": Discovered("default", False),
        "webhook": Discovered("default", True),
        "bigquery": Discovered("other", False),  # kept: its deployment is only away
    }
    rounds.finish()


def test_no_deployments_discover_nothing_without_a_thread() -> None:
    before = threading.active_count()
    empty = Discovery(parse_service_config({}), Answers({}))  # type: ignore[arg-type]
    assert empty.types(timedelta(seconds=5)) == {}
    assert threading.active_count() == before


def test_find_asks_again_for_a_type_it_has_not_seen() -> None:
    # A worker meets a type the scheduler saw first: one more round finds it.
    answers = Answers(
        {
            "default": [[agent("Sensor", "sensor")], [agent("New", "fresh", is_sync=True)]],
            "other": [[]],
        }
    )
    rounds = Rounds()
    discovery = Discovery(CONFIG, answers, rounds.wait)  # type: ignore[arg-type]
    assert discovery.types(timedelta(seconds=30)) == {"sensor": Discovered("default", False)}
    assert discovery.find("fresh") == Discovered("default", True)
    assert discovery.find("never_heard_of") is None  # everyone answered: not served
    rounds.finish()


def test_find_is_a_system_error_while_a_deployment_does_not_answer() -> None:
    down = RemoteCallError(
        "ListAgents to connector 'other': UNAVAILABLE", code="ConnectorUnavailable"
    )
    answers = Answers({"default": [[agent("Sensor", "sensor")]], "other": [down]})
    rounds = Rounds()
    discovery = Discovery(CONFIG, answers, rounds.wait)  # type: ignore[arg-type]
    assert discovery.find("sensor") == Discovered("default", False)
    with pytest.raises(RemoteCallError, match="'other' did not answer ListAgents") as caught:
        discovery.find("bigquery")  # 'other' may serve it: not a final "not found"
    assert caught.value.system and caught.value.retryable
    rounds.finish()
