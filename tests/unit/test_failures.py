"""scheduler._model.failures: the one mapping from an exception to a failure PhaseInfo."""

from __future__ import annotations

import pytest

from plugins.core import ErrorKind, Phase
from plugins.errors import PluginLoadError, PluginNotFoundError, StorageError
from scheduler._model import FailureSite, describe, failure_info


def test_describe_names_the_type_and_keeps_the_message() -> None:
    assert describe(ValueError("bad input")) == "ValueError: bad input"
    assert describe(KeyError()) == "KeyError"


@pytest.mark.parametrize(
    ("site", "code", "phase", "kind"),
    [
        (FailureSite.PLUGIN_CALL, "TaskFailedWithError", Phase.RETRYABLE_FAILURE, ErrorKind.USER),
        (
            FailureSite.RESOURCE_REQUIREMENTS,
            "ResourceRequirementsFailed",
            Phase.RETRYABLE_FAILURE,
            ErrorKind.SYSTEM,
        ),
        (
            FailureSite.OUTPUT_COMMIT,
            "OutputCommitFailed",
            Phase.RETRYABLE_FAILURE,
            ErrorKind.SYSTEM,
        ),
        (FailureSite.SCHEDULER, "SchedulerError", Phase.RETRYABLE_FAILURE, ErrorKind.SYSTEM),
        (FailureSite.PLUGIN_LOAD, "PluginLoadFailed", Phase.PERMANENT_FAILURE, ErrorKind.SYSTEM),
        (FailureSite.RESOLVE, "PluginLoadFailed", Phase.PERMANENT_FAILURE, ErrorKind.SYSTEM),
    ],
)
def test_the_site_decides_code_kind_and_retry(
    site: FailureSite, code: str, phase: Phase, kind: ErrorKind
) -> None:
    info = failure_info(RuntimeError("boom"), site)
    assert info.phase is phase
    assert info.err is not None
    assert (info.err.code, info.err.kind, info.err.message) == (code, kind, "RuntimeError: boom")


def test_an_unknown_task_type_is_the_users_final_error_with_the_registry_message() -> None:
    exc = PluginNotFoundError("unknown task type 'spark'")
    info = failure_info(exc, FailureSite.RESOLVE)
    assert info.phase is Phase.PERMANENT_FAILURE
    assert info.err is not None
    assert (info.err.code, info.err.kind) == ("UnknownTaskType", ErrorKind.USER)
    assert info.err.message == "unknown task type 'spark'"


def test_a_worker_missing_a_plugin_is_a_system_error() -> None:
    # The scheduler knew the plugin; a worker that does not is a deployment problem.
    info = failure_info(PluginNotFoundError("no plugin with id 'x'"), FailureSite.PLUGIN_LOAD)
    assert info.err is not None
    assert (info.err.code, info.err.kind) == ("UnknownTaskType", ErrorKind.SYSTEM)


def test_a_load_error_keeps_its_own_code_but_other_sites_do_not() -> None:
    load = failure_info(PluginLoadError("loader raised", code="Custom"), FailureSite.PLUGIN_LOAD)
    assert load.err is not None and load.err.code == "Custom"
    call = failure_info(StorageError("disk full"), FailureSite.PLUGIN_CALL)
    assert call.err is not None and call.err.code == "TaskFailedWithError"


def test_every_site_has_its_own_rule() -> None:
    assert len(set(FailureSite)) == len(FailureSite.__members__)
    for site in FailureSite:
        assert failure_info(RuntimeError("x"), site).phase.is_failure()
