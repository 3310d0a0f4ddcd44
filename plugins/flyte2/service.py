"""The connector service's calls in flyteidl2, for a deployment whose ``protocol`` is ``flyteidl2``.

Flyte 2's ``ConnectorService`` serves ``flyteidl2.connector.AsyncConnectorService`` and
``ConnectorMetadataService``. The ``connector-service`` plugin builds flyteidl 1 requests
(Propeller's); these functions make the same call on a flyteidl2 stub and hand back flyteidl 1's
answer, so routing, deadlines and the phase mapping stay one. Flyte 2 has no sync service: its
connectors are all async.

This module imports ``flyteidl2`` (the ``flyte-celery[flyte2]`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl2.connector import connector_pb2, service_pb2_grpc

from plugins.flyte2.idl import as_v1, as_v2, inputs_v2, resource_v1, template_v2

__all__ = ["ASYNC_STUB", "METADATA_STUB", "create", "delete", "get", "list_connectors"]

Call = Callable[[Any, Any], Any]
"""``(stub method, request) -> response``, with the deployment's deadline and errors."""

# flyteidl2's generated stubs are untyped: the messages are what is checked.
ASYNC_STUB: Any = service_pb2_grpc.AsyncConnectorServiceStub
METADATA_STUB: Any = service_pb2_grpc.ConnectorMetadataServiceStub


def _category(category: agent_pb2.TaskCategory) -> connector_pb2.TaskCategory:
    return connector_pb2.TaskCategory(name=category.name, version=category.version)


def list_connectors(stub: Any, call: Call) -> list[agent_pb2.Agent]:
    """``ListConnectors`` on a :data:`METADATA_STUB`, as flyteidl 1's agents (none sync)."""
    response = call(stub.ListConnectors, connector_pb2.ListConnectorsRequest())
    return [as_v1(connector, agent_pb2.Agent) for connector in response.connectors]


def create(
    stub: Any, call: Call, request: agent_pb2.CreateTaskRequest
) -> agent_pb2.CreateTaskResponse:
    """``CreateTask``: the template and metadata by their bytes, the inputs as named literals."""
    twin = connector_pb2.CreateTaskRequest(
        inputs=inputs_v2(request.inputs),
        template=template_v2(request.template),
        output_prefix=request.output_prefix,
        task_execution_metadata=as_v2(
            request.task_execution_metadata, connector_pb2.TaskExecutionMetadata
        ),
    )
    response = call(stub.CreateTask, twin)
    return agent_pb2.CreateTaskResponse(resource_meta=response.resource_meta)


def get(stub: Any, call: Call, request: agent_pb2.GetTaskRequest) -> agent_pb2.Resource:
    """``GetTask``: the job's resource, as flyteidl 1's."""
    twin = connector_pb2.GetTaskRequest(
        resource_meta=request.resource_meta,
        task_category=_category(request.task_category),
        output_prefix=request.output_prefix,
    )
    return resource_v1(call(stub.GetTask, twin).resource)


def delete(stub: Any, call: Call, request: agent_pb2.DeleteTaskRequest) -> None:
    """``DeleteTask``."""
    twin = connector_pb2.DeleteTaskRequest(
        resource_meta=request.resource_meta, task_category=_category(request.task_category)
    )
    call(stub.DeleteTask, twin)
