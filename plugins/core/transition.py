"""Transitions: what a core plugin's ``handle`` returns (Go's ``core/transition.go``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from plugins.core.phase_info import PhaseInfo

__all__ = [
    "UNKNOWN_TRANSITION",
    "Transition",
    "TransitionType",
    "do_transition",
    "do_transition_type",
]


class TransitionType(enum.IntEnum):
    """How consistently the state written with a transition must be visible next round."""

    EPHEMERAL = 0
    """Eventually consistent; the default and the only type in use."""

    BARRIER = 1
    """Deprecated in Flyte; kept so that every Flyte value has a twin."""

    def __str__(self) -> str:
        return "TransitionType" + self.name.capitalize()


@dataclass(frozen=True)
class Transition:
    """A :class:`TransitionType` with the :class:`PhaseInfo` the plugin observed."""

    type: TransitionType
    info: PhaseInfo

    def __str__(self) -> str:
        return f"{self.type},{self.info}"


def do_transition_type(ttype: TransitionType, info: PhaseInfo) -> Transition:
    """A transition of the given type."""
    return Transition(TransitionType(ttype), info)


def do_transition(info: PhaseInfo) -> Transition:
    """An EPHEMERAL transition, the normal case."""
    return do_transition_type(TransitionType.EPHEMERAL, info)


UNKNOWN_TRANSITION = Transition(TransitionType.EPHEMERAL, PhaseInfo.UNDEFINED)
"""Returned together with an error: the round observed nothing."""
