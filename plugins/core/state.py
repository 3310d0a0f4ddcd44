"""Per-attempt plugin state (Go's ``PluginStateReader``/``PluginStateWriter``).

A core plugin keeps small state between rounds. Within a round it reads the state
persisted by the previous round and may ``put`` a new value; the last ``put`` of
the round wins and becomes visible in the next round, after the engine has
persisted it. ``reset`` clears the state instead.

Values are stored as JSON: plain JSON values, dataclasses and pydantic models
are accepted by :meth:`PluginState.put` and rebuilt by :meth:`PluginState.get`.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

from pydantic import TypeAdapter, ValidationError

from plugins.errors import PluginStateError
from plugins.idl import JSONValue

__all__ = ["MAX_STATE_VERSION", "PluginState", "PluginStateReader", "PluginStateWriter"]

MAX_STATE_VERSION = 255
"""State versions are uint8 in Flyte."""

_UNSET: Any = object()


@runtime_checkable
class PluginStateReader(Protocol):
    """Reads the state persisted by the previous round."""

    def get_state_version(self) -> int:
        """The version passed to the ``put`` that produced the current state (0 if none)."""
        ...

    def get(self, into: type[Any] | None = None) -> tuple[int, Any]:
        """Return ``(version, value)``; ``value`` is ``None`` when nothing is stored.

        Args:
            into: A type to rebuild the stored JSON as; ``None`` returns the JSON.
        """
        ...


@runtime_checkable
class PluginStateWriter(Protocol):
    """Records the state for the next round."""

    def put(self, version: int, value: Any) -> None:
        """Replace the state for the next round; the last call of a round wins."""
        ...

    def reset(self) -> None:
        """Clear the state for the next round."""
        ...


def _to_json(value: Any) -> JSONValue:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        json.dumps(value)  # fail now, with the offending value, rather than when persisting
        return value
    return TypeAdapter(type(value)).dump_python(value, mode="json")


class PluginState:
    """An in-memory reader and writer for one round, and its JSON encoding.

    Args:
        version: The version of the state persisted by the previous round.
        value: That state, as JSON.
    """

    def __init__(self, version: int = 0, value: JSONValue = None) -> None:
        self._version = version
        self._value = value
        self._pending_version: int = _UNSET
        self._pending_value: JSONValue = _UNSET

    # -- reader --------------------------------------------------------------------------------

    def get_state_version(self) -> int:
        """The version of the state visible this round."""
        return self._version

    def get(self, into: type[Any] | None = None) -> tuple[int, Any]:
        """Return ``(version, value)`` as visible this round.

        Args:
            into: A type (dataclass, pydantic model, ...) to rebuild the value as.

        Raises:
            PluginStateError: The stored value does not fit ``into`` (Flyte's
                ``CorruptedPluginState``).
        """
        if into is None or self._value is None:
            return self._version, self._value
        try:
            return self._version, TypeAdapter(into).validate_python(self._value)
        except ValidationError as exc:
            raise PluginStateError(
                f"stored plugin state (version {self._version}) does not decode as "
                f"{into.__name__}: {exc}"
            ) from exc

    # -- writer --------------------------------------------------------------------------------

    def put(self, version: int, value: Any) -> None:
        """Record ``value`` for the next round.

        Raises:
            ValueError: ``version`` is not in [0, 255].
            TypeError: ``value`` cannot be encoded as JSON.
        """
        if not 0 <= version <= MAX_STATE_VERSION:
            raise ValueError(
                f"plugin state version must be in [0, {MAX_STATE_VERSION}], got {version}"
            )
        self._pending_version = version
        self._pending_value = _to_json(value)

    def reset(self) -> None:
        """Clear the state for the next round."""
        self._pending_version = 0
        self._pending_value = None

    # -- engine side ---------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        """Whether ``put`` or ``reset`` was called this round."""
        return self._pending_version is not _UNSET

    def next_round(self) -> PluginState:
        """The state the next round sees: the last write of this round, or this round's state."""
        if not self.changed:
            return PluginState(self._version, self._value)
        return PluginState(self._pending_version, self._pending_value)

    def to_json(self) -> str:
        """Encode the visible state as ``{"version": v, "value": ...}``."""
        return json.dumps({"version": self._version, "value": self._value}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes | None) -> PluginState:
        """Decode :meth:`to_json` output; ``None`` or empty means no state.

        Raises:
            PluginStateError: The text is not a state document.
        """
        if not text:
            return cls()
        try:
            doc = json.loads(text)
            version = int(doc["version"])
            value = doc["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise PluginStateError(f"plugin state is not a state document: {exc}") from exc
        return cls(version, value)
