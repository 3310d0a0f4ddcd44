"""Plugin state: the last put of a round wins and is visible next round; reset clears it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from plugins.core import PluginState, PluginStateReader, PluginStateWriter
from plugins.errors import PluginStateError


@dataclass
class Handle:
    job_id: str
    attempts: int = 0


def test_empty_state() -> None:
    state = PluginState()
    assert state.get() == (0, None)
    assert state.get(Handle) == (0, None)
    assert state.get_state_version() == 0
    assert not state.changed
    assert isinstance(state, PluginStateReader) and isinstance(state, PluginStateWriter)


def test_put_is_visible_only_next_round_and_last_put_wins() -> None:
    state = PluginState(1, {"job_id": "old", "attempts": 0})
    state.put(1, Handle("first"))
    state.put(2, Handle("second", 3))
    assert state.get() == (1, {"job_id": "old", "attempts": 0})  # this round is unchanged
    nxt = state.next_round()
    assert nxt.get(Handle) == (2, Handle("second", 3))
    assert nxt.get_state_version() == 2


def test_no_write_carries_the_state_over() -> None:
    state = PluginState(3, [1, 2])
    assert state.next_round().get() == (3, [1, 2])


def test_reset_clears() -> None:
    state = PluginState(4, {"x": 1})
    state.put(5, {"x": 2})
    state.reset()
    assert state.changed
    assert state.next_round().get() == (0, None)


def test_json_encoding_round_trips() -> None:
    state = PluginState(7, {"job_id": "j", "attempts": 1})
    back = PluginState.from_json(state.to_json())
    assert back.get(Handle) == (7, Handle("j", 1))
    assert PluginState.from_json(None).get() == (0, None)
    assert PluginState.from_json("").get() == (0, None)


def test_corrupt_state_is_a_clear_error() -> None:
    with pytest.raises(PluginStateError, match="not a state document"):
        PluginState.from_json("{not json")
    with pytest.raises(PluginStateError, match="Handle"):
        PluginState(1, {"unexpected": True}).get(Handle)


def test_put_validates_version_and_value() -> None:
    state = PluginState()
    with pytest.raises(ValueError, match="version"):
        state.put(256, {})
    with pytest.raises(TypeError):
        state.put(1, {"not": object()})
