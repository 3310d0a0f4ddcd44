"""Transitions: Go's core/transition.go and its tests."""

from __future__ import annotations

from datetime import UTC, datetime

from plugins.core import (
    UNKNOWN_TRANSITION,
    PhaseInfo,
    TaskInfo,
    Transition,
    TransitionType,
    do_transition,
    do_transition_type,
)


def test_transition_type_names() -> None:
    assert str(TransitionType.EPHEMERAL) == "TransitionTypeEphemeral"
    assert str(TransitionType.BARRIER) == "TransitionTypeBarrier"
    assert int(TransitionType.EPHEMERAL) == 0


def test_do_transition_is_ephemeral_with_the_same_info() -> None:
    for info in (PhaseInfo.UNDEFINED, PhaseInfo.success(None)):
        t = do_transition(info)
        assert t.type is TransitionType.EPHEMERAL
        assert t.info is info


def test_do_transition_type_barrier() -> None:
    info = PhaseInfo.running(1)
    t = do_transition_type(TransitionType.BARRIER, info)
    assert t == Transition(TransitionType.BARRIER, info)


def test_unknown_transition() -> None:
    assert UNKNOWN_TRANSITION.type is TransitionType.EPHEMERAL
    assert UNKNOWN_TRANSITION.info == PhaseInfo.UNDEFINED


def test_string_form() -> None:
    when = datetime(2020, 1, 1, tzinfo=UTC)
    t = do_transition(PhaseInfo.running(0, TaskInfo(occurred_at=when)))
    assert str(t) == (
        "TransitionTypeEphemeral,Phase<PhaseRunning:0 Info<@2020-01-01T00:00:00+00:00> Reason:>"
    )
