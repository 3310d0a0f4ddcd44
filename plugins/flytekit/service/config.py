"""The ``connector-service`` settings, with Propeller's keys, so a Flyte user can paste theirs.

The section ``connector-service`` of the ``FLYTE_CELERY_PLUGIN_CONFIG`` file::

    connector-service:
      defaultConnector: {endpoint: "dns:///connector:8000", insecure: true,
                         defaultTimeout: 10s, timeouts: {CreateTask: 5s, GetTask: 5s}}
      connectors: {custom: {endpoint: "localhost:8001", insecure: true},
                   flyte2: {endpoint: "localhost:8002", insecure: true, protocol: flyteidl2}}
      connectorForTaskTypes: {bigquery_query_job_task: custom}
      supportedTaskTypes: [sensor]
      pollInterval: 10s
      webApi: {resourceQuotas: {default: 1000}, caching: {resyncInterval: 5s}}
      resourceConstraints: {ProjectScopeResourceConstraint: {Value: 100}}

Propeller's older names (``defaultAgent``, ``agents``, ``agentForTaskTypes``, the
``ListAgents`` timeout) are read too. Every bad value is a :class:`ConfigError` naming
its key.
"""

from __future__ import annotations

import enum
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from plugins.core import ResourceConstraint, ResourceConstraintsSpec
from plugins.errors import ConfigError
from plugins.webapi.config import Duration

__all__ = [
    "OWN_KEYS",
    "Deployment",
    "Method",
    "Protocol",
    "ServiceConfig",
    "parse_service_config",
]


class Method(enum.Enum):
    """The connector service's calls, each with its own deadline (``timeouts`` keys)."""

    CREATE = "CreateTask"
    GET = "GetTask"
    DELETE = "DeleteTask"
    EXECUTE_SYNC = "ExecuteTaskSync"
    LIST = "ListAgents"


class Protocol(enum.Enum):
    """What a deployment speaks: flytekit's connector service, or Flyte 2's."""

    FLYTEIDL = "flyteidl"
    FLYTEIDL2 = "flyteidl2"


_TIMEOUT_KEYS = {m.value: m for m in Method} | {"ListConnectors": Method.LIST}
_DEFAULT_TIMEOUT = timedelta(seconds=10)


@dataclass(frozen=True)
class Deployment:
    """One connector deployment: where it listens and how long each call may take.

    Attributes:
        name: ``default`` for ``defaultConnector``, else its key under ``connectors``.
        endpoint: ``host:port`` or a gRPC target such as ``dns:///host:port``.
        insecure: Plain text; otherwise TLS with the system's roots.
        service_config: gRPC's JSON service config (``defaultServiceConfig``).
        timeouts: Per-call deadlines; a call not listed gets ``default_timeout``.
        default_timeout: The deadline of calls without their own.
        protocol: flyteidl (``flyteidl.service.AsyncAgentService``, flytekit's and
            Propeller's) or flyteidl2 (``flyteidl2.connector.AsyncConnectorService``, Flyte
            2's ``ConnectorService``).
    """

    name: str
    endpoint: str
    insecure: bool = False
    service_config: str = ""
    timeouts: Mapping[Method, timedelta] = field(default_factory=dict)
    default_timeout: timedelta = _DEFAULT_TIMEOUT
    protocol: Protocol = Protocol.FLYTEIDL

    def timeout(self, method: Method) -> timedelta:
        """The deadline of ``method`` on this deployment."""
        return self.timeouts.get(method, self.default_timeout)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Deployment(_Model):
    endpoint: str = Field(min_length=1)
    insecure: bool = False
    default_service_config: str = Field("", alias="defaultServiceConfig")
    timeouts: dict[str, Duration] = Field(default_factory=dict)
    default_timeout: Duration = Field(_DEFAULT_TIMEOUT, alias="defaultTimeout")
    protocol: Protocol = Protocol.FLYTEIDL


class _Constraint(_Model):
    value: int = Field(gt=0, alias="Value")


class _Constraints(_Model):
    project: _Constraint | None = Field(None, alias="ProjectScopeResourceConstraint")
    namespace: _Constraint | None = Field(None, alias="NamespaceScopeResourceConstraint")


class _Service(_Model):
    default_connector: _Deployment | None = Field(
        None, validation_alias=AliasChoices("defaultConnector", "defaultAgent")
    )
    connectors: dict[str, _Deployment] = Field(
        default_factory=dict, validation_alias=AliasChoices("connectors", "agents")
    )
    connector_for_task_types: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("connectorForTaskTypes", "agentForTaskTypes"),
    )
    supported_task_types: list[str] = Field(default_factory=list, alias="supportedTaskTypes")
    poll_interval: Duration = Field(timedelta(seconds=10), alias="pollInterval")
    web_api: dict[str, Any] = Field(default_factory=dict, alias="webApi")
    resource_constraints: _Constraints = Field(
        _Constraints.model_validate({}), alias="resourceConstraints"
    )


OWN_KEYS = frozenset(
    {
        "defaultConnector",
        "defaultAgent",
        "connectors",
        "agents",
        "connectorForTaskTypes",
        "agentForTaskTypes",
        "supportedTaskTypes",
        "pollInterval",
        "resourceConstraints",
    }
)
"""The section's keys that are not PluginConfig's (which sit under ``webApi``)."""


@dataclass(frozen=True)
class ServiceConfig:
    """The parsed ``connector-service`` section.

    Attributes:
        deployments: Every deployment by name; the default one is ``default``.
        pinned: Task types pinned to a deployment (``connectorForTaskTypes``).
        supported: Task types the default deployment serves (``supportedTaskTypes``).
        poll_interval: How often each deployment is asked for its connectors.
        constraints: Per-project and per-namespace caps under the quota.
    """

    deployments: Mapping[str, Deployment]
    pinned: Mapping[str, str]
    supported: frozenset[str]
    poll_interval: timedelta
    constraints: ResourceConstraintsSpec

    @property
    def default(self) -> Deployment | None:
        """The default deployment, if one is configured."""
        return self.deployments.get("default")


def _deployment(name: str, model: _Deployment) -> Deployment:
    timeouts = {}
    for key, value in model.timeouts.items():
        method = _TIMEOUT_KEYS.get(key)
        if method is None:
            known = ", ".join(sorted(_TIMEOUT_KEYS))
            raise ConfigError(
                f"connector-service: {name}: timeouts.{key} is not a call (known: {known})"
            )
        timeouts[method] = value
    if model.default_service_config:
        try:
            json.loads(model.default_service_config)
        except ValueError as exc:
            raise ConfigError(
                f"connector-service: {name}: defaultServiceConfig is not JSON: {exc}"
            ) from None
    if model.protocol is Protocol.FLYTEIDL2 and importlib.util.find_spec("flyteidl2") is None:
        raise ConfigError(
            f"connector-service: {name}: protocol flyteidl2 needs the flyte-celery[flyte2] "
            "extra (flyteidl2 is not installed)"
        )
    return Deployment(
        name=name,
        endpoint=model.endpoint,
        insecure=model.insecure,
        service_config=model.default_service_config,
        timeouts=timeouts,
        default_timeout=model.default_timeout,
        protocol=model.protocol,
    )


def _constraint(model: _Constraint | None) -> ResourceConstraint | None:
    return None if model is None else ResourceConstraint(model.value)


def _explain(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "section"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def parse_service_config(section: Mapping[str, Any]) -> ServiceConfig:
    """Parse the ``connector-service`` section of the plugin configuration file.

    Raises:
        ConfigError: A key is unknown or a value is malformed; the message names it.
    """
    if not isinstance(section, Mapping):
        raise ConfigError(
            f"connector-service: expected a mapping of settings, got {type(section).__name__}"
        )
    try:
        model = _Service.model_validate(dict(section))
    except ValidationError as exc:
        raise ConfigError(f"connector-service: {_explain(exc)}") from None
    deployments = {n: _deployment(n, d) for n, d in model.connectors.items()}
    if model.default_connector is not None:
        if "default" in deployments:
            raise ConfigError(
                "connector-service: connectors.default clashes with defaultConnector "
                "(the default deployment's name); rename it"
            )
        deployments["default"] = _deployment("default", model.default_connector)
    for task_type, name in model.connector_for_task_types.items():
        if name not in deployments:
            known = ", ".join(sorted(deployments)) or "none"
            raise ConfigError(
                f"connector-service: connectorForTaskTypes.{task_type} names connector "
                f"{name!r}, which is not configured (known: {known})"
            )
    if model.supported_task_types and "default" not in deployments:
        raise ConfigError("connector-service: supportedTaskTypes needs a defaultConnector")
    if model.poll_interval <= timedelta(0):
        raise ConfigError("connector-service: pollInterval must be positive")
    constraints = model.resource_constraints
    return ServiceConfig(
        deployments=deployments,
        pinned=dict(model.connector_for_task_types),
        supported=frozenset(model.supported_task_types),
        poll_interval=model.poll_interval,
        constraints=ResourceConstraintsSpec(
            project_scope=_constraint(constraints.project),
            namespace_scope=_constraint(constraints.namespace),
        ),
    )
