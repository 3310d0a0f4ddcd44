"""Literals as the values they hold, for people to read on the console.

A flyteidl ``Literal`` becomes plain data (numbers, text, lists, maps, a blob's
URI), then one line of JSON-like text. This is for display only: it never fails,
and what it cannot show as a value it names (``<union>``, ``<error: ...>``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

import msgpack
from flyteidl.core import literals_pb2
from google.protobuf import json_format

__all__ = ["literal_value", "primitive_value", "shown"]

_LONGEST = 2_000
"""The most characters of one value shown; the rest is cut with a note."""


def primitive_value(prim: literals_pb2.Primitive) -> Any:
    """A primitive's value: a number, text, a bool, an ISO time or a duration as ``12s``."""
    which = prim.WhichOneof("value")
    if which == "datetime":
        return prim.datetime.ToDatetime(tzinfo=UTC).isoformat()
    if which == "duration":
        return f"{prim.duration.ToTimedelta().total_seconds():g}s"
    return None if which is None else getattr(prim, which)


def _binary(binary: literals_pb2.Binary) -> Any:
    if binary.tag == "msgpack":
        return msgpack.unpackb(binary.value, strict_map_key=False)
    return f"<{len(binary.value)} bytes, {binary.tag or 'untagged'}>"


_SCALARS: dict[str, Callable[[literals_pb2.Scalar], Any]] = {
    "primitive": lambda s: primitive_value(s.primitive),
    "none_type": lambda s: None,
    "blob": lambda s: {"blob": s.blob.uri},
    "structured_dataset": lambda s: {"structured dataset": s.structured_dataset.uri},
    "generic": lambda s: json_format.MessageToDict(s.generic),
    "binary": lambda s: _binary(s.binary),
    "union": lambda s: literal_value(s.union.value),
    "error": lambda s: f"<error: {s.error.message}>",
}


def _scalar(scalar: literals_pb2.Scalar) -> Any:
    which = scalar.WhichOneof("value") or "empty"
    read = _SCALARS.get(which)
    return f"<{which}>" if read is None else read(scalar)


def literal_value(literal: literals_pb2.Literal) -> Any:
    """The value ``literal`` holds, as plain data (see the module's docstring)."""
    try:
        which = literal.WhichOneof("value")
        if which == "scalar":
            return _scalar(literal.scalar)
        if which == "collection":
            return [literal_value(item) for item in literal.collection.literals]
        if which == "map":
            return {k: literal_value(v) for k, v in sorted(literal.map.literals.items())}
        if which == "offloaded_metadata":
            return {"offloaded": literal.offloaded_metadata.uri}
        return f"<{which or 'empty'}>"
    except Exception as exc:  # display only: a value we cannot read is named, not raised
        return f"<unreadable: {exc}>"


def _text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        # Not JSON (bytes keys from msgpack, nesting too deep): Python's own spelling.
        try:
            return repr(value)
        except Exception as exc:  # display only
            return f"<unshowable: {type(exc).__name__}>"


def _is_time(literal: literals_pb2.Literal) -> bool:
    """A duration or a datetime: shown as it reads (``900s``), not as a quoted JSON string."""
    if literal.WhichOneof("value") != "scalar" or literal.scalar.WhichOneof("value") != "primitive":
        return False
    return literal.scalar.primitive.WhichOneof("value") in ("duration", "datetime")


def shown(literals: literals_pb2.LiteralMap) -> list[tuple[str, str]]:
    """Each name with its value as one line of text, names in order."""
    rows = []
    for name, literal in sorted(literals.literals.items()):
        value = literal_value(literal)
        text = str(value) if _is_time(literal) else _text(value)
        if len(text) > _LONGEST:
            text = text[:_LONGEST] + f"... ({len(text) - _LONGEST} more characters)"
        rows.append((name, text))
    return rows
