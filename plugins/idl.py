"""Adapters between flyteidl protobuf messages and plain Python values.

Everything that crosses a process boundary as JSON (Redis records, Celery
messages, events) goes through these helpers, so that protobuf handling lives in
one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from flyteidl.core import literals_pb2
from google.protobuf import json_format, struct_pb2, timestamp_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

__all__ = [
    "JSONValue",
    "datetime_from_json",
    "datetime_from_timestamp",
    "datetime_to_json",
    "literal_map",
    "message_from_json",
    "message_to_json",
    "parse_message",
    "struct_from_dict",
    "struct_to_dict",
    "timestamp_from_datetime",
    "utc",
]

JSONValue = Any
"""A value that :func:`json.dumps` accepts (dicts, lists, str, int, float, bool, None)."""

M = TypeVar("M", bound=Message)


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime; naive values are taken to be UTC."""
    if value.tzinfo is UTC:
        return value  # the common case, and on every record copy: no new object
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def timestamp_from_datetime(value: datetime) -> timestamp_pb2.Timestamp:
    """Convert a datetime (naive means UTC) to a protobuf ``Timestamp``."""
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(utc(value))
    return ts


def datetime_from_timestamp(value: timestamp_pb2.Timestamp) -> datetime:
    """Convert a protobuf ``Timestamp`` to an aware UTC datetime."""
    return value.ToDatetime(tzinfo=UTC)


def datetime_to_json(value: datetime | None) -> str | None:
    """Serialize an optional datetime as ISO 8601 in UTC."""
    return None if value is None else utc(value).isoformat()


def datetime_from_json(value: str | datetime | None) -> datetime | None:
    """Parse :func:`datetime_to_json` output (a datetime passes through, in UTC)."""
    if value is None:
        return None
    return utc(value if isinstance(value, datetime) else datetime.fromisoformat(value))


_AS_IS = frozenset(
    (
        FieldDescriptor.TYPE_STRING,
        FieldDescriptor.TYPE_BOOL,
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_FIXED32,
    )
)
"""Field types whose proto3 JSON is the Python value itself (no 64-bit ints, no floats)."""


def message_to_json(message: Message) -> JSONValue:
    """Turn a protobuf message into a JSON-compatible dict (proto3 JSON mapping)."""
    flat = _flat_to_json(message)
    if flat is not None:
        return flat
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _flat_to_json(message: Message) -> dict[str, JSONValue] | None:
    """:func:`json_format.MessageToDict` of a message of strings, bools, small ints and enums.

    protobuf's JSON printer is pure Python (about 4 µs for a log link, twice this path's
    time), and every Get turns its PhaseInfo's links to JSON. Such a message's JSON is its
    set fields as they are (an enum by name), which ``ListFields`` gives from C. ``None``
    for any other message (a well-known type, a repeated, nested, 64-bit, float or bytes
    field, an unknown enum number): the printer does those.
    """
    if message.DESCRIPTOR.full_name.startswith("google.protobuf."):
        return None
    result: dict[str, JSONValue] = {}
    for field, value in message.ListFields():
        if field.is_repeated or field.is_extension:
            return None
        if field.type in _AS_IS:
            result[field.name] = value
        elif field.type == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
            named = field.enum_type.values_by_number.get(value)
            if named is None:
                return None
            result[field.name] = named.name
        else:
            return None
    return result


def message_from_json(message_type: type[M], value: JSONValue) -> M:
    """Build a protobuf message of ``message_type`` from :func:`message_to_json` output."""
    message = message_type()
    json_format.ParseDict(value, message)
    return message


def parse_message(message_type: type[M], data: bytes) -> M:
    """Parse serialized protobuf bytes.

    Raises:
        DecodeError: The bytes are not a valid ``message_type``.
    """
    message = message_type()
    try:
        message.ParseFromString(data)
    except DecodeError:
        raise
    except Exception as exc:  # the C++ and upb backends raise other types on garbage
        raise DecodeError(str(exc)) from exc
    return message


def struct_from_dict(value: Mapping[str, JSONValue]) -> struct_pb2.Struct:
    """Build a ``google.protobuf.Struct`` from a JSON-compatible mapping."""
    struct = struct_pb2.Struct()
    struct.update(json.loads(json.dumps(dict(value))))
    return struct


def struct_to_dict(value: struct_pb2.Struct) -> dict[str, JSONValue]:
    """Turn a ``google.protobuf.Struct`` into a plain dict."""
    result: dict[str, JSONValue] = json_format.MessageToDict(value)
    return result


def literal_map(
    literals: literals_pb2.LiteralMap | Mapping[str, literals_pb2.Literal] | None,
) -> literals_pb2.LiteralMap:
    """Normalise inputs given as a ``LiteralMap``, a dict of ``Literal`` or ``None``.

    Raises:
        TypeError: A value is not a flyteidl ``Literal``; the message names its key.
    """
    if literals is None:
        return literals_pb2.LiteralMap()
    if isinstance(literals, literals_pb2.LiteralMap):
        return literals
    result = literals_pb2.LiteralMap()
    for key, lit in literals.items():
        if not isinstance(lit, literals_pb2.Literal):
            raise TypeError(
                f"input {key!r} must be a flyteidl core.Literal, got {type(lit).__name__}"
            )
        result.literals[key].CopyFrom(lit)
    return result
