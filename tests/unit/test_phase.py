"""Phase, PhaseInfo and ExecutionError: Go's core/phase.go semantics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from typing import Any

import pytest
from flyteidl.core import execution_pb2
from hypothesis import given

from plugins.core import (
    DEFAULT_PHASE_VERSION,
    SYSTEM_ERROR_CODE,
    ErrorKind,
    ExecutionError,
    Phase,
    PhaseInfo,
    TaskInfo,
)
from plugins.errors import InvalidPhaseError
from tests.strategies import execution_errors, phase_infos

T0 = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_phases_are_in_flytes_order() -> None:
    assert [p.name for p in Phase] == [
        "UNDEFINED",
        "NOT_READY",
        "WAITING_FOR_RESOURCES",
        "QUEUED",
        "INITIALIZING",
        "RUNNING",
        "SUCCESS",
        "RETRYABLE_FAILURE",
        "PERMANENT_FAILURE",
        "WAITING_FOR_CACHE",
        "ABORTED",
    ]
    assert [int(p) for p in Phase] == list(range(11))


@pytest.mark.parametrize(
    ("phase", "terminal", "success", "failure"),
    [
        (Phase.UNDEFINED, False, False, False),
        (Phase.NOT_READY, False, False, False),
        (Phase.WAITING_FOR_RESOURCES, False, False, False),
        (Phase.QUEUED, False, False, False),
        (Phase.INITIALIZING, False, False, False),
        (Phase.RUNNING, False, False, False),
        (Phase.SUCCESS, True, True, False),
        (Phase.RETRYABLE_FAILURE, True, False, True),
        (Phase.PERMANENT_FAILURE, True, False, True),
        (Phase.WAITING_FOR_CACHE, False, False, False),
        (Phase.ABORTED, True, False, False),
    ],
)
def test_phase_predicates(phase: Phase, terminal: bool, success: bool, failure: bool) -> None:
    assert phase.is_terminal() is terminal
    assert phase.is_success() is success
    assert phase.is_failure() is failure
    assert phase.is_aborted() is (phase is Phase.ABORTED)
    assert phase.is_waiting_for_resources() is (phase is Phase.WAITING_FOR_RESOURCES)


@pytest.mark.parametrize("phase", list(Phase))
def test_from_string_accepts_flyte_and_our_names(phase: Phase) -> None:
    assert Phase.from_string(phase.flyte_name) is phase
    assert Phase.from_string(phase.name) is phase
    assert Phase.from_string(phase.name.lower()) is phase
    # Printed, a phase reads as the CLI and the console show it; Flyte's name is asked for.
    assert str(phase) == f"{phase}" == phase.name


def test_flyte_names_match_go() -> None:
    assert Phase.WAITING_FOR_RESOURCES.flyte_name == "PhaseWaitingForResources"
    assert Phase.RETRYABLE_FAILURE.flyte_name == "PhaseRetryableFailure"
    assert Phase.from_string("PhaseRunning") is Phase.RUNNING
    assert Phase.from_string("RUNNING") is Phase.RUNNING


@pytest.mark.parametrize("bad", ["", "Running!", "PhaseBogus", "phaserunning", "7"])
def test_from_string_rejects_unknown_names_clearly(bad: str) -> None:
    with pytest.raises(InvalidPhaseError) as info:
        Phase.from_string(bad)
    assert repr(bad) in str(info.value)
    assert "RUNNING" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_constants() -> None:
    assert DEFAULT_PHASE_VERSION == 0
    assert SYSTEM_ERROR_CODE == "SystemError"


# -- constructors ------------------------------------------------------------------------------


def test_non_failure_constructors_set_phase_version_reason() -> None:
    info = TaskInfo(occurred_at=T0)
    cases = [
        (PhaseInfo.not_ready(T0, 2, "r"), Phase.NOT_READY, 2, "r"),
        (PhaseInfo.waiting_for_resources(T0, 3, "quota"), Phase.WAITING_FOR_RESOURCES, 3, "quota"),
        (
            PhaseInfo.waiting_for_resources_info(None, 3, "quota", info),
            Phase.WAITING_FOR_RESOURCES,
            3,
            "quota",
        ),
        (PhaseInfo.queued(T0, 4, "q"), Phase.QUEUED, 4, "q"),
        (PhaseInfo.queued_with_task_info(None, 5, "q", info), Phase.QUEUED, 5, "q"),
        (PhaseInfo.initializing(None, 6, "init", info), Phase.INITIALIZING, 6, "init"),
        (PhaseInfo.aborted(T0, 9, "stop"), Phase.ABORTED, 9, "stop"),
        (PhaseInfo.running(7, info), Phase.RUNNING, 7, ""),
        (PhaseInfo.success(info), Phase.SUCCESS, 0, ""),
        (PhaseInfo.waiting_for_cache(8, info), Phase.WAITING_FOR_CACHE, 8, ""),
    ]
    for pi, phase, version, reason in cases:
        assert (pi.phase, pi.version, pi.reason) == (phase, version, reason)
        assert pi.err is None
        assert pi.cleanup_on_failure is False
        assert pi.info is not None
        assert pi.info.occurred_at == T0


def test_occurred_at_defaults_to_now() -> None:
    before = datetime.now(UTC)
    pi = PhaseInfo.running(1)
    after = datetime.now(UTC)
    assert pi.info is not None and pi.info.occurred_at is not None
    assert before <= pi.info.occurred_at <= after
    kept = PhaseInfo.running(1, TaskInfo(custom_info={"a": 1}))
    assert kept.info is not None and kept.info.custom_info == {"a": 1}
    assert kept.info.occurred_at is not None


T1 = datetime(2024, 5, 6, 8, 0, 0, tzinfo=UTC)

# Go's time-first constructors: (t, version, reason) and, where Go has it, info last.
TIME_FIRST_WITH_INFO: list[tuple[Callable[..., PhaseInfo], Phase]] = [
    (PhaseInfo.waiting_for_resources_info, Phase.WAITING_FOR_RESOURCES),
    (PhaseInfo.queued_with_task_info, Phase.QUEUED),
    (PhaseInfo.initializing, Phase.INITIALIZING),
]
TIME_FIRST_WITHOUT_INFO: list[tuple[Callable[..., PhaseInfo], Phase]] = [
    (PhaseInfo.not_ready, Phase.NOT_READY),
    (PhaseInfo.waiting_for_resources, Phase.WAITING_FOR_RESOURCES),
    (PhaseInfo.queued, Phase.QUEUED),
    (PhaseInfo.aborted, Phase.ABORTED),
]


@pytest.mark.parametrize(("ctor", "phase"), TIME_FIRST_WITH_INFO + TIME_FIRST_WITHOUT_INFO)
def test_time_first_constructors_follow_gos_order(ctor: Any, phase: Phase) -> None:
    pi = ctor(T0, 3, "why")
    assert (pi.phase, pi.version, pi.reason) == (phase, 3, "why")
    assert pi.info is not None and pi.info.occurred_at == T0
    assert pi.err is None
    by_name = ctor(t=T0, version=3, reason="why")
    assert by_name == pi


@pytest.mark.parametrize(("ctor", "phase"), TIME_FIRST_WITH_INFO + TIME_FIRST_WITHOUT_INFO)
def test_time_first_constructors_default_to_now(ctor: Any, phase: Phase) -> None:
    before = datetime.now(UTC)
    pi = ctor()
    after = datetime.now(UTC)
    assert (pi.phase, pi.version, pi.reason) == (phase, 0, "")
    assert pi.info is not None and pi.info.occurred_at is not None
    assert before <= pi.info.occurred_at <= after


@pytest.mark.parametrize(("ctor", "phase"), TIME_FIRST_WITH_INFO)
def test_time_first_info_keeps_its_own_occurred_at(ctor: Any, phase: Phase) -> None:
    own = TaskInfo(occurred_at=T1, custom_info={"a": 1})
    kept = ctor(T0, 2, "r", own)
    assert kept.phase is phase
    assert kept.info == own
    # An info without a time gets t, and keeps everything else.
    timeless = TaskInfo(custom_info={"a": 1})
    filled = ctor(T0, 2, "r", timeless)
    assert filled.info is not None
    assert filled.info.occurred_at == T0
    assert filled.info.custom_info == {"a": 1}
    assert ctor(T0, 2, "r", info=timeless) == filled


@pytest.mark.parametrize(
    ("ctor", "old_args"),
    [
        (PhaseInfo.not_ready, (2, "r")),
        (PhaseInfo.waiting_for_resources, (0, "quota")),
        (PhaseInfo.waiting_for_resources_info, (0, "quota", TaskInfo(occurred_at=T0))),
        (PhaseInfo.queued, (1, "q")),
        (PhaseInfo.queued_with_task_info, (5, "q", TaskInfo(occurred_at=T0))),
        (PhaseInfo.initializing, (6, "init", TaskInfo(occurred_at=T0))),
        (PhaseInfo.aborted, (1, "stop")),
    ],
)
def test_time_first_constructors_reject_the_old_version_first_order(
    ctor: Any, old_args: tuple[object, ...]
) -> None:
    name = ctor.__name__
    with pytest.raises(TypeError, match=rf"PhaseInfo\.{name}\(\) takes the time first") as exc:
        ctor(*old_args)
    assert "Go's order" in str(exc.value)
    assert "int" in str(exc.value)


@pytest.mark.parametrize("bad", [0, 3, 1.5, "2024-05-06T07:08:09+00:00", T0.date(), True])
def test_time_first_guard_rejects_any_non_datetime(bad: object) -> None:
    with pytest.raises(TypeError, match="takes the time first"):
        PhaseInfo.initializing(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes the time first"):
        PhaseInfo.waiting_for_resources(t=bad)  # type: ignore[arg-type]


def test_constructors_without_time_keep_gos_order() -> None:
    info = TaskInfo(occurred_at=T0)
    assert PhaseInfo.running(4, info).version == 4
    assert PhaseInfo.waiting_for_cache(5, info).version == 5
    assert PhaseInfo.success(info).info == info
    err = ExecutionError("C", "m", ErrorKind.USER)
    failed = PhaseInfo.failed(Phase.RETRYABLE_FAILURE, err, info)
    assert (failed.phase, failed.err, failed.info) == (Phase.RETRYABLE_FAILURE, err, info)
    failure = PhaseInfo.failure("C", "m", info)
    assert (failure.err, failure.info) == (err, info)


@pytest.mark.parametrize(
    ("ctor", "phase", "kind", "cleanup"),
    [
        (PhaseInfo.failure, Phase.PERMANENT_FAILURE, ErrorKind.USER, False),
        (PhaseInfo.failure_with_cleanup, Phase.PERMANENT_FAILURE, ErrorKind.USER, True),
        (PhaseInfo.retryable_failure, Phase.RETRYABLE_FAILURE, ErrorKind.USER, False),
        (PhaseInfo.retryable_failure_with_cleanup, Phase.RETRYABLE_FAILURE, ErrorKind.USER, True),
        (PhaseInfo.system_failure, Phase.PERMANENT_FAILURE, ErrorKind.SYSTEM, False),
        (PhaseInfo.system_failure_with_cleanup, Phase.PERMANENT_FAILURE, ErrorKind.SYSTEM, True),
        (PhaseInfo.system_retryable_failure, Phase.RETRYABLE_FAILURE, ErrorKind.SYSTEM, False),
        (
            PhaseInfo.system_retryable_failure_with_cleanup,
            Phase.RETRYABLE_FAILURE,
            ErrorKind.SYSTEM,
            True,
        ),
    ],
)
def test_failure_constructors(ctor: object, phase: Phase, kind: ErrorKind, cleanup: bool) -> None:
    pi = ctor("Code", "went wrong")  # type: ignore[operator]
    assert pi.phase is phase
    assert pi.version == 0
    assert pi.err == ExecutionError(code="Code", message="went wrong", kind=kind)
    assert pi.err.kind == (
        execution_pb2.ExecutionError.USER
        if kind is ErrorKind.USER
        else execution_pb2.ExecutionError.SYSTEM
    )
    assert pi.cleanup_on_failure is cleanup
    assert pi.info is not None and pi.info.occurred_at is not None


def test_failed_defaults_a_missing_error_to_unknown() -> None:
    for pi in (
        PhaseInfo.failed(Phase.PERMANENT_FAILURE, None),
        PhaseInfo.failed_with_cleanup(Phase.RETRYABLE_FAILURE, None),
    ):
        assert pi.err is not None
        assert pi.err.code == "Unknown"
        assert pi.version == 0
    err = ExecutionError("X", "y", ErrorKind.SYSTEM, is_recoverable=True)
    kept = PhaseInfo.failed(Phase.RETRYABLE_FAILURE, err)
    assert kept.err == err


def test_phase_info_is_immutable() -> None:
    pi = PhaseInfo.running(1)
    with pytest.raises(FrozenInstanceError):
        pi.version = 2  # type: ignore[misc]


def test_version_must_fit_uint32() -> None:
    with pytest.raises(ValueError, match="phase version"):
        PhaseInfo.running(-1)
    with pytest.raises(ValueError, match="phase version"):
        PhaseInfo.running(2**32)
    assert PhaseInfo.running(2**32 - 1).version == 2**32 - 1


def test_with_version_copies_and_keeps_cleanup() -> None:
    pi = PhaseInfo.retryable_failure_with_cleanup("c", "m")
    bumped = pi.with_version(3)
    assert bumped.version == 3
    assert (bumped.phase, bumped.err, bumped.info) == (pi.phase, pi.err, pi.info)
    assert bumped.cleanup_on_failure is True
    assert pi.version == 0


def test_with_reason_appends() -> None:
    pi = PhaseInfo.queued(T0, 1, "first")
    assert pi.with_reason("second").reason == "first, second"
    assert PhaseInfo.running(1).with_reason("only").reason == "only"
    changed = pi.with_reason("x")
    assert (changed.phase, changed.version, changed.info) == (pi.phase, pi.version, pi.info)


def test_undefined_constant() -> None:
    assert PhaseInfo.UNDEFINED.phase is Phase.UNDEFINED
    assert PhaseInfo.UNDEFINED.version == 0
    assert PhaseInfo.UNDEFINED.info is None
    assert PhaseInfo.UNDEFINED.err is None


def test_string_forms_follow_go() -> None:
    pi = PhaseInfo.queued(T0, 2, "launched")
    assert str(pi) == "Phase<PhaseQueued:2 Info<@2024-05-06T07:08:09+00:00> Reason:launched>"
    failed = PhaseInfo.failure("Bad", "no good")
    assert str(failed) == "Phase<PhasePermanentFailure:0 Error:Bad: no good>"
    assert str(PhaseInfo.UNDEFINED) == "Phase<PhaseUndefined:0 <nil> Reason:>"


# -- ExecutionError ------------------------------------------------------------------------------


def test_execution_error_wraps_flyteidl() -> None:
    err = ExecutionError("C", "m", ErrorKind.USER, is_recoverable=True, timestamp=T0, worker="w1")
    pb = err.execution_error
    assert isinstance(pb, execution_pb2.ExecutionError)
    assert (pb.code, pb.message, pb.kind, pb.worker) == ("C", "m", 1, "w1")
    assert pb.timestamp.ToDatetime(tzinfo=UTC) == T0
    back = ExecutionError.from_flyte_idl(pb, is_recoverable=True)
    assert back == err


@given(execution_errors)
def test_execution_error_round_trips_through_flyteidl(err: ExecutionError) -> None:
    assert (
        ExecutionError.from_flyte_idl(err.to_flyte_idl(), is_recoverable=err.is_recoverable) == err
    )


# -- JSON round trip -----------------------------------------------------------------------------


@given(phase_infos)
def test_phase_info_json_round_trip(pi: PhaseInfo) -> None:
    text = pi.to_json()
    assert PhaseInfo.from_json(text) == pi
    assert PhaseInfo.from_dict(pi.to_dict()) == pi
