"""The connector-service section: Propeller's keys, pasted as a Flyte user has them."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from plugins.core import ResourceConstraint
from plugins.errors import ConfigError
from plugins.flytekit.service.config import Method, parse_service_config

PROPELLER = """
defaultConnector:
  endpoint: "dns:///connector:8000"
  insecure: true
  defaultServiceConfig: '{"loadBalancingConfig": [{"round_robin":{}}]}'
  defaultTimeout: 10s
  timeouts: {CreateTask: 5s, GetTask: 5s, DeleteTask: 5s, ExecuteTaskSync: 30s,
             ListConnectors: 5s}
connectors:
  custom: {endpoint: "custom:8001", insecure: true}
connectorForTaskTypes: {bigquery_query_job_task: custom}
supportedTaskTypes: [sensor, webhook]
pollInterval: 10s
webApi:
  resourceQuotas: {default: 1000}
  readRateLimiter: {qps: 10, burst: 100}
  writeRateLimiter: {qps: 10, burst: 100}
  caching: {resyncInterval: 30s, maxSystemFailures: 5}
resourceConstraints:
  ProjectScopeResourceConstraint: {Value: 100}
  NamespaceScopeResourceConstraint: {Value: 50}
"""


def test_propellers_section_parses_as_it_is() -> None:
    config = parse_service_config(yaml.safe_load(PROPELLER))
    default = config.default
    assert default is not None
    assert default.endpoint == "dns:///connector:8000" and default.insecure
    assert default.service_config.startswith('{"loadBalancing')
    assert default.timeout(Method.CREATE) == timedelta(seconds=5)
    assert default.timeout(Method.EXECUTE_SYNC) == timedelta(seconds=30)
    assert default.timeout(Method.LIST) == timedelta(seconds=5)
    custom = config.deployments["custom"]
    assert custom.timeout(Method.GET) == timedelta(seconds=10)  # the default timeout
    assert config.pinned == {"bigquery_query_job_task": "custom"}
    assert config.supported == {"sensor", "webhook"}
    assert config.poll_interval == timedelta(seconds=10)
    assert config.constraints.project_scope == ResourceConstraint(100)
    assert config.constraints.namespace_scope == ResourceConstraint(50)


def test_the_older_agent_names_are_read_too() -> None:
    config = parse_service_config(
        {
            "defaultAgent": {"endpoint": "a:1", "timeouts": {"ListAgents": "2s"}},
            "agents": {"b": {"endpoint": "b:2"}},
            "agentForTaskTypes": {"t": "b"},
        }
    )
    assert config.default is not None
    assert config.default.timeout(Method.LIST) == timedelta(seconds=2)
    assert config.pinned == {"t": "b"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"defaultConnector": {"endpoint": "a:1", "timeouts": {"Create": "1s"}}},
         "timeouts.Create is not a call"),
        ({"defaultConnector": {"endpoint": "a:1", "defaultTimeout": "soon"}},
         "defaultConnector.defaultTimeout"),
        ({"defaultConnector": {"endpoint": ""}}, "defaultConnector.endpoint"),
        ({"connectorForTaskTypes": {"t": "nowhere"}}, "names connector 'nowhere'"),
        ({"supportedTaskTypes": ["t"]}, "supportedTaskTypes needs a defaultConnector"),
        ({"pollInteval": "1s"}, "pollInteval"),
        ({"defaultConnector": {"endpoint": "a:1"}, "pollInterval": "0s"}, "pollInterval"),
        ({"resourceConstraints": {"ProjectScopeResourceConstraint": {"Value": 0}}},
         "ProjectScopeResourceConstraint"),
    ],
)  # fmt: skip
def test_a_bad_value_is_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="connector-service") as caught:
        parse_service_config(section)
    assert message in str(caught.value)
