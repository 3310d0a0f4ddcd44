"""gRPC calls to connector deployments: one channel per deployment and process, a deadline per call.

Channels are made on first use in each process (and again after a fork: a Celery
pool child must not use its parent's gRPC state). Every call has the deadline its
deployment's ``timeouts`` give it. A failed call becomes a
:class:`~plugins.errors.RemoteCallError` that says how the attempt ends:

- ``UNAVAILABLE`` or ``DEADLINE_EXCEEDED``: the connector is away or too slow, a
  SYSTEM error, retried (on Get it counts toward ``maxSystemFailures``);
- ``NOT_FOUND``, ``INVALID_ARGUMENT``, ``UNIMPLEMENTED``, ``FAILED_PRECONDITION``:
  the connector will not run this task (an unknown type), a permanent failure;
- anything else (the connector raised): a retryable failure, like a plugin that raises.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import grpc
from flyteidl.admin import agent_pb2
from flyteidl.service import agent_pb2_grpc

from plugins.errors import RemoteCallError
from plugins.flytekit.service.config import Deployment, Method, Protocol

__all__ = ["NOT_FOUND_CODE", "ConnectorCalls"]

NOT_FOUND_CODE = "ConnectorNotFound"
"""The code of a call the connector answered NOT_FOUND (an unknown type or job)."""

_PERMANENT = {
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.FAILED_PRECONDITION,
}
_SYSTEM = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def _target(endpoint: str) -> str:
    # Propeller's endpoints read "dns:///host:port"; grpc takes that as it is, and
    # "host:port" too.
    return endpoint.strip()


def _error(exc: grpc.RpcError, deployment: Deployment, method: Method) -> RemoteCallError:
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    where = f"connector {deployment.name!r} at {deployment.endpoint}"
    if code in _SYSTEM:
        limit = deployment.timeout(method).total_seconds()
        why = (
            f"no answer within {limit:g}s" if code is grpc.StatusCode.DEADLINE_EXCEEDED else details
        )
        name = "ConnectorUnavailable" if code is grpc.StatusCode.UNAVAILABLE else "ConnectorTimeout"
        return RemoteCallError(f"{method.value} to {where}: {code.name}: {why}", code=name)
    message = f"{method.value} to {where} failed: {code.name}: {details}"
    if code in _PERMANENT:
        name = NOT_FOUND_CODE if code is grpc.StatusCode.NOT_FOUND else "ConnectorRejected"
        return RemoteCallError(message, code=name, system=False, retryable=False)
    return RemoteCallError(message, code="TaskFailedWithError", system=False, retryable=True)


class ConnectorCalls:
    """The calls of the connector service, to any configured deployment."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}

    def _channel(self, deployment: Deployment) -> grpc.Channel:
        if self._pid != os.getpid():
            # A forked child (one thread so far): the parent's channels are not usable
            # here, and its lock may have been held at the fork. Do not close the
            # channels either (that would touch the parent's gRPC state).
            self._pid, self._lock, self._channels = os.getpid(), threading.Lock(), {}
        with self._lock:
            channel = self._channels.get(deployment.name)
            if channel is None:
                options: list[tuple[str, Any]] = []
                if deployment.service_config:
                    options.append(("grpc.service_config", deployment.service_config))
                target = _target(deployment.endpoint)
                if deployment.insecure:
                    channel = grpc.insecure_channel(target, options=options)
                else:
                    credentials = grpc.ssl_channel_credentials()
                    channel = grpc.secure_channel(target, credentials, options=options)
                self._channels[deployment.name] = channel
            return channel

    def _stub(self, kind: Any, deployment: Deployment, method: Method) -> Any:
        try:
            # flyteidl's generated stubs are untyped (Any): the messages are checked.
            stub: Any = kind(self._channel(deployment))
            return stub
        except Exception as exc:  # bad credentials, a target grpc cannot parse...
            raise RemoteCallError(
                f"{method.value} to connector {deployment.name!r} at {deployment.endpoint}: "
                f"cannot open a channel: {type(exc).__name__}: {exc}",
                code="ConnectorUnavailable",
            ) from None

    def _call(self, deployment: Deployment, method: Method, call: Any, request: Any) -> Any:
        timeout = deployment.timeout(method).total_seconds()
        try:
            return call(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise _error(exc, deployment, method) from None

    def _flyte2(self, deployment: Deployment, method: Method, metadata: bool = False) -> Any:
        """A flyteidl2 deployment's stub, and its calls with their deadline and errors."""
        from plugins.flyte2 import service  # noqa: PLC0415 - the flyte2 extra's

        kind = service.METADATA_STUB if metadata else service.ASYNC_STUB

        def call(bound: Any, request: Any) -> Any:
            return self._call(deployment, method, bound, request)

        return service, self._stub(kind, deployment, method), call

    def list_agents(self, deployment: Deployment) -> list[agent_pb2.Agent]:
        """The connectors a deployment serves (``ListAgents``, or ``ListConnectors``)."""
        if deployment.protocol is Protocol.FLYTEIDL2:
            service, stub, call = self._flyte2(deployment, Method.LIST, metadata=True)
            agents: list[agent_pb2.Agent] = service.list_connectors(stub, call)
            return agents
        stub = self._stub(agent_pb2_grpc.AgentMetadataServiceStub, deployment, Method.LIST)
        response = self._call(
            deployment, Method.LIST, stub.ListAgents, agent_pb2.ListAgentsRequest()
        )
        return list(response.agents)

    def create(
        self, deployment: Deployment, request: agent_pb2.CreateTaskRequest
    ) -> agent_pb2.CreateTaskResponse:
        """``CreateTask`` on an async connector."""
        if deployment.protocol is Protocol.FLYTEIDL2:
            service, stub, call = self._flyte2(deployment, Method.CREATE)
            created: agent_pb2.CreateTaskResponse = service.create(stub, call, request)
            return created
        stub = self._stub(agent_pb2_grpc.AsyncAgentServiceStub, deployment, Method.CREATE)
        response: agent_pb2.CreateTaskResponse = self._call(
            deployment, Method.CREATE, stub.CreateTask, request
        )
        return response

    def get(self, deployment: Deployment, request: agent_pb2.GetTaskRequest) -> agent_pb2.Resource:
        """``GetTask``: the job's resource."""
        if deployment.protocol is Protocol.FLYTEIDL2:
            service, stub, call = self._flyte2(deployment, Method.GET)
            found: agent_pb2.Resource = service.get(stub, call, request)
            return found
        stub = self._stub(agent_pb2_grpc.AsyncAgentServiceStub, deployment, Method.GET)
        response = self._call(deployment, Method.GET, stub.GetTask, request)
        resource: agent_pb2.Resource = response.resource
        return resource

    def delete(self, deployment: Deployment, request: agent_pb2.DeleteTaskRequest) -> None:
        """``DeleteTask``."""
        if deployment.protocol is Protocol.FLYTEIDL2:
            service, stub, call = self._flyte2(deployment, Method.DELETE)
            service.delete(stub, call, request)
            return
        stub = self._stub(agent_pb2_grpc.AsyncAgentServiceStub, deployment, Method.DELETE)
        self._call(deployment, Method.DELETE, stub.DeleteTask, request)

    def execute_sync(
        self,
        deployment: Deployment,
        header: agent_pb2.CreateRequestHeader,
        inputs: Any,
    ) -> agent_pb2.Resource:
        """``ExecuteTaskSync``: a header message, then the inputs; one resource back.

        Raises:
            RemoteCallError: Also for a flyteidl2 deployment: Flyte 2 has no sync service.
        """
        if deployment.protocol is Protocol.FLYTEIDL2:
            raise RemoteCallError(
                f"connector {deployment.name!r} speaks flyteidl2, which has no sync connector "
                "service (ExecuteTaskSync)",
                code="ConnectorRejected",
                system=False,
                retryable=False,
            )

        def requests() -> Iterator[agent_pb2.ExecuteTaskSyncRequest]:
            yield agent_pb2.ExecuteTaskSyncRequest(header=header)
            yield agent_pb2.ExecuteTaskSyncRequest(inputs=inputs)

        stub = self._stub(agent_pb2_grpc.SyncAgentServiceStub, deployment, Method.EXECUTE_SYNC)
        timeout = deployment.timeout(Method.EXECUTE_SYNC).total_seconds()
        resource = agent_pb2.Resource()
        try:
            for response in stub.ExecuteTaskSync(requests(), timeout=timeout):
                if response.HasField("header"):
                    resource.CopyFrom(response.header.resource)
                elif response.HasField("outputs"):
                    # A connector may stream the outputs after the header.
                    resource.outputs.MergeFrom(response.outputs)
        except grpc.RpcError as exc:
            raise _error(exc, deployment, Method.EXECUTE_SYNC) from None
        return resource
