"""A connector's Resource as a PhaseInfo, as Propeller maps it (for both connector plugins)."""

from __future__ import annotations

from flyteidl.admin import agent_pb2
from flyteidl.core import execution_pb2

from plugins.core import ErrorKind, Phase
from plugins.flytekit.status import resource_phase_info

TE = execution_pb2.TaskExecution


def test_running_phases_keep_the_connectors_links_and_info() -> None:
    resource = agent_pb2.Resource(phase=TE.RUNNING, message="halfway")
    resource.log_links.add(name="console", uri="https://example.test/job/1")
    resource.custom_info.update({"job": "1"})
    info = resource_phase_info(resource)
    assert info.phase is Phase.RUNNING and info.version == 0
    assert info.info is not None and info.info.custom_info == {"job": "1"}
    assert [link.uri for link in info.info.logs] == ["https://example.test/job/1"]


def test_failures_without_an_agent_error() -> None:
    failed = resource_phase_info(agent_pb2.Resource(phase=TE.FAILED, message="boom"))
    assert failed.phase is Phase.PERMANENT_FAILURE
    assert failed.err is not None and failed.err.code == "TaskFailedWithError"
    assert failed.err.message == "failed to run the job: boom"
    retryable = resource_phase_info(agent_pb2.Resource(phase=TE.RETRYABLE_FAILED, message="x"))
    assert retryable.phase is Phase.RETRYABLE_FAILURE
    aborted = resource_phase_info(agent_pb2.Resource(phase=TE.ABORTED))
    assert aborted.phase is Phase.PERMANENT_FAILURE
    assert aborted.err is not None and aborted.err.code == "TaskFailedWithError"
    assert aborted.err.message == "the job was aborted"


def test_an_agent_error_gives_its_code_recoverability_and_origin() -> None:
    error = agent_pb2.AgentError(
        code="QuotaExceeded",
        kind=agent_pb2.AgentError.RECOVERABLE,
        origin=execution_pb2.ExecutionError.SYSTEM,
    )
    resource = agent_pb2.Resource(phase=TE.FAILED, message="try later", agent_error=error)
    info = resource_phase_info(resource)
    assert info.phase is Phase.RETRYABLE_FAILURE
    assert info.err is not None
    assert (info.err.code, info.err.kind) == ("QuotaExceeded", ErrorKind.SYSTEM)
    final = agent_pb2.AgentError(code="BadQuery", origin=execution_pb2.ExecutionError.USER)
    info = resource_phase_info(agent_pb2.Resource(phase=TE.FAILED, agent_error=final))
    assert info.phase is Phase.PERMANENT_FAILURE
    assert info.err is not None and (info.err.code, info.err.kind) == ("BadQuery", ErrorKind.USER)


def test_the_deprecated_state_is_read_only_without_a_phase() -> None:
    # A connector sets phase; its state still reads RETRYABLE_FAILURE (enum zero).
    ok = resource_phase_info(agent_pb2.Resource(phase=TE.SUCCEEDED))
    assert ok.phase is Phase.SUCCESS
    old = resource_phase_info(agent_pb2.Resource(state=agent_pb2.SUCCEEDED))
    assert old.phase is Phase.SUCCESS
