"""A connector's ``Resource`` (flyteidl ``admin.Resource``) as a PhaseInfo, as Propeller maps it.

Shared by connectors in process and over gRPC. QUEUED, WAITING, INITIALIZING and
RUNNING map to the same phase at version 0, with the connector's log links and custom
info in the TaskInfo; SUCCEEDED succeeds; FAILED is a permanent failure with the
message ``failed to run the job: <message>``; RETRYABLE_FAILED a retryable one;
ABORTED a failure. A connector's ``agent_error`` gives the code, makes the failure
retryable when RECOVERABLE, and a SYSTEM one when its origin is the system. The
deprecated ``state`` field is read only when ``phase`` is UNDEFINED (it says
RETRYABLE_FAILURE, its enum zero, even on success).
"""

from __future__ import annotations

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2
from google.protobuf import json_format

from plugins.core import PhaseInfo, TaskInfo
from plugins.io import InMemoryOutputReader
from plugins.webapi import TaskExecutionContext

__all__ = ["FAILED_CODE", "resource_phase_info", "resource_status"]

FAILED_CODE = "TaskFailedWithError"
"""The error code of a failed connector job whose connector gave none (``agent_error``)."""

_Phase = execution_pb2.TaskExecution
_STATES = {
    agent_pb2.PENDING: _Phase.QUEUED,
    agent_pb2.RUNNING: _Phase.RUNNING,
    agent_pb2.SUCCEEDED: _Phase.SUCCEEDED,
    agent_pb2.PERMANENT_FAILURE: _Phase.FAILED,
    agent_pb2.RETRYABLE_FAILURE: _Phase.FAILED,
}


def _info(resource: agent_pb2.Resource) -> TaskInfo:
    custom = None
    if resource.HasField("custom_info"):
        custom = json_format.MessageToDict(resource.custom_info)
    return TaskInfo(logs=list(resource.log_links), custom_info=custom)


def _failure(phase: int, resource: agent_pb2.Resource, info: TaskInfo) -> PhaseInfo | None:
    if phase not in (_Phase.RETRYABLE_FAILED, _Phase.ABORTED, _Phase.FAILED):
        return None
    message = resource.message
    verb = "the job was aborted" if phase == _Phase.ABORTED else "failed to run the job"
    reason = f"{verb}: {message}" if message else verb
    retryable = phase == _Phase.RETRYABLE_FAILED
    system = False
    code = FAILED_CODE
    if resource.HasField("agent_error"):
        # The connector's own error: its code, whether it is recoverable, and whose fault.
        error = resource.agent_error
        code = error.code or FAILED_CODE
        retryable = retryable or error.kind == agent_pb2.AgentError.RECOVERABLE
        system = error.origin == execution_pb2.ExecutionError.SYSTEM
    if system:
        make = PhaseInfo.system_retryable_failure if retryable else PhaseInfo.system_failure
    else:
        make = PhaseInfo.retryable_failure if retryable else PhaseInfo.failure
    return make(code, reason, info)


def resource_phase_info(resource: agent_pb2.Resource) -> PhaseInfo:
    """The PhaseInfo of a connector's resource (outputs are written by the caller)."""
    phase = resource.phase
    if phase == _Phase.UNDEFINED:
        phase = _STATES.get(resource.state, _Phase.UNDEFINED)
    info = _info(resource)
    message = resource.message
    if phase in (_Phase.QUEUED, _Phase.WAITING_FOR_RESOURCES):
        return PhaseInfo.queued_with_task_info(version=0, reason=message or "queued", info=info)
    if phase == _Phase.INITIALIZING:
        return PhaseInfo.initializing(version=0, reason=message or "initializing", info=info)
    if phase == _Phase.RUNNING:
        return PhaseInfo.running(0, info)
    if phase == _Phase.SUCCEEDED:
        return PhaseInfo.success(info)
    failed = _failure(phase, resource, info)
    if failed is not None:
        return failed
    return PhaseInfo.system_failure(
        "BadResource", f"the connector reported no phase (phase {phase}, state {resource.state})"
    )


def resource_status(ctx: TaskExecutionContext, resource: agent_pb2.Resource) -> PhaseInfo:
    """The resource's PhaseInfo; on success, the outputs it returned become the task's.

    A connector that wrote ``outputs.pb`` under the output prefix itself returns none, and
    that file stands.
    """
    info = resource_phase_info(resource)
    if info.phase.name == "SUCCESS" and resource.outputs.literals:
        ctx.output_writer.put(InMemoryOutputReader(resource.outputs))
    return info
