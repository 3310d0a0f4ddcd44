"""The ``connector-service`` plugin: Flyte connectors over gRPC, as Propeller's plugin runs them.

Routing (:meth:`ConnectorServicePlugin.claimed_task_types`): a type pinned in
``connectorForTaskTypes`` goes to that deployment; a type a deployment reports
through ``ListAgents`` goes there; a type in ``supportedTaskTypes`` goes to the
default deployment. The scheduler routes a claimed type here even when an
in-process connector serves it too, unless a plugin lists it in its
``default_for_task_types``.

Calls: a sync connector gets ``ExecuteTaskSync`` in Create, and its resource ends
the attempt at once; an async one gets ``CreateTask``, then ``GetTask`` every resync
interval and ``DeleteTask`` on abort. The handle keeps the deployment, the task
category, the connector's resource meta and the output prefix, so any worker can
Get or Delete. Each call has its deadline; a deadline or an unavailable connector
is a system error.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import timedelta

from flyteidl.admin import agent_pb2

from plugins.core import PhaseInfo, PluginSetupContext, ResourceConstraintsSpec, ResourceNamespace
from plugins.errors import RemoteCallError
from plugins.flytekit.requests import rendered_template, task_execution_metadata
from plugins.flytekit.service.calls import NOT_FOUND_CODE, ConnectorCalls
from plugins.flytekit.service.config import (
    OWN_KEYS,
    Deployment,
    ServiceConfig,
    parse_service_config,
)
from plugins.flytekit.service.discovery import Discovery
from plugins.flytekit.status import resource_status
from plugins.webapi import (
    DEFAULT_RESOURCE_NAMESPACE,
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    StatusContext,
    TaskExecutionContextReader,
)

__all__ = ["PLUGIN_ID", "ConnectorServicePlugin", "ServiceHandle"]

PLUGIN_ID = "connector-service"


@dataclass(frozen=True)
class ServiceHandle:
    """What Create left: Propeller's ``{OutputPrefix, ConnectorResourceMeta, TaskCategory}``.

    Attributes:
        deployment: The deployment that serves the task.
        task_type: The task category's name.
        task_type_version: Its version.
        resource_meta: The connector's resource meta, base64 (empty for a sync one).
        output_prefix: Where the attempt's outputs go.
        is_sync: The connector ran through ``ExecuteTaskSync``.
    """

    deployment: str
    task_type: str
    task_type_version: int
    resource_meta: str
    output_prefix: str
    is_sync: bool = False


@dataclass(frozen=True)
class _Route:
    deployment: Deployment
    is_sync: bool


class ConnectorServicePlugin(AsyncPlugin[ServiceHandle, agent_pb2.Resource]):
    """Connectors reached over gRPC.

    Args:
        config: The parsed ``connector-service`` section.
        calls: The gRPC calls (one set per plugin).
    """

    own_config_keys = OWN_KEYS
    """Keys of its section that are its own; PluginConfig overrides sit under ``webApi``."""

    def __init__(self, config: ServiceConfig, calls: ConnectorCalls | None = None) -> None:
        self._config = config
        self._calls = calls or ConnectorCalls()
        self._discovery = Discovery(config, self._calls)

    def get_config(self) -> PluginConfig:
        """Propeller's connector defaults: a quota of 1000, a 10 s resync."""
        return PluginConfig(
            resource_meta=ServiceHandle,
            resource_quotas={"default": 1000},
            caching={"resyncInterval": "10s"},
        )

    def claimed_task_types(self, wait: timedelta = timedelta(0)) -> frozenset[str] | None:
        """Pinned, discovered and listed types; ``None`` before the first discovery round.

        Args:
            wait: How long to wait for the first round.
        """
        discovered = self._discovery.types(wait)
        if discovered is None:
            return None
        return frozenset(self._config.pinned) | frozenset(discovered) | self._config.supported

    def _route(self, task_type: str) -> _Route:
        config = self._config
        name = config.pinned.get(task_type)
        if name is None and task_type in config.supported and config.default is not None:
            name = config.default.name
        if name is not None:
            # Pinned or listed: sync or async as its deployment reports it (async if the
            # deployment does not list it, as Propeller assumes).
            try:
                found = self._discovery.find(task_type)
            except RemoteCallError:
                found = None  # the deployment is away: the call itself will say so
            is_sync = found is not None and found.deployment == name and found.is_sync
            return _Route(config.deployments[name], is_sync)
        found = self._discovery.find(task_type)  # a silent deployment: a system error
        if found is not None:
            return _Route(config.deployments[found.deployment], found.is_sync)
        claimed = sorted(self.claimed_task_types() or ())
        raise RemoteCallError(
            f"task type {task_type!r} is not served by any configured connector "
            f"(connector-service serves: {', '.join(claimed) or 'none'})",
            code=NOT_FOUND_CODE,
            system=False,
            retryable=False,
        )

    def _deployment(self, handle: ServiceHandle) -> Deployment:
        deployment = self._config.deployments.get(handle.deployment)
        if deployment is not None:
            return deployment
        # The deployment left the configuration since Create: route the type anew.
        return self._route(handle.task_type).deployment

    def resource_requirements(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ResourceNamespace, ResourceConstraintsSpec]:
        """The ``default`` namespace, under the configured ``resourceConstraints``."""
        del ctx
        return DEFAULT_RESOURCE_NAMESPACE, self._config.constraints

    def create(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ServiceHandle, agent_pb2.Resource | None]:
        """``ExecuteTaskSync`` for a sync connector (the resource ends it), else ``CreateTask``."""
        template = rendered_template(ctx)
        route = self._route(template.type)
        output_prefix = ctx.output_writer.get_output_prefix_path()
        inputs = ctx.input_reader.get()
        metadata = task_execution_metadata(ctx)
        handle = ServiceHandle(
            deployment=route.deployment.name,
            task_type=template.type,
            task_type_version=template.task_type_version,
            resource_meta="",
            output_prefix=output_prefix,
            is_sync=route.is_sync,
        )
        if route.is_sync:
            header = agent_pb2.CreateRequestHeader(
                template=template, output_prefix=output_prefix, task_execution_metadata=metadata
            )
            return handle, self._calls.execute_sync(route.deployment, header, inputs)
        request = agent_pb2.CreateTaskRequest(
            inputs=inputs,
            template=template,
            output_prefix=output_prefix,
            task_execution_metadata=metadata,
        )
        response = self._calls.create(route.deployment, request)
        meta = base64.b64encode(response.resource_meta).decode()
        return replace(handle, resource_meta=meta), None

    def _category(self, handle: ServiceHandle) -> agent_pb2.TaskCategory:
        return agent_pb2.TaskCategory(name=handle.task_type, version=handle.task_type_version)

    def get(self, ctx: GetContext[ServiceHandle]) -> agent_pb2.Resource:
        """``GetTask`` with the task category and the connector's resource meta."""
        handle = ctx.resource_meta
        request = agent_pb2.GetTaskRequest(
            task_type=handle.task_type,
            resource_meta=base64.b64decode(handle.resource_meta),
            task_category=self._category(handle),
            output_prefix=handle.output_prefix,
        )
        return self._calls.get(self._deployment(handle), request)

    def delete(self, ctx: DeleteContext[ServiceHandle]) -> None:
        """``DeleteTask``; nothing for a sync connector or a Create that never answered."""
        handle = ctx.resource_meta
        if handle is None or handle.is_sync:
            return
        request = agent_pb2.DeleteTaskRequest(
            task_type=handle.task_type,
            resource_meta=base64.b64decode(handle.resource_meta),
            task_category=self._category(handle),
        )
        # flytekit's service answers NOT_FOUND for an unknown connector, never for a job
        # that is gone: an error here means the job may still run, so it is raised.
        self._calls.delete(self._deployment(handle), request)

    def status(self, ctx: StatusContext[ServiceHandle, agent_pb2.Resource]) -> PhaseInfo:
        """Propeller's mapping; on success the returned outputs (else ``outputs.pb``)."""
        return resource_status(ctx, ctx.resource)

    def close(self) -> None:
        """Stop discovering."""
        self._discovery.stop()


def load(setup: PluginSetupContext) -> ConnectorServicePlugin:
    """The plugin, configured from its section of ``FLYTE_CELERY_PLUGIN_CONFIG``.

    Raises:
        ConfigError: The section is malformed; the message names the key.
    """
    return ConnectorServicePlugin(parse_service_config(setup.config))
