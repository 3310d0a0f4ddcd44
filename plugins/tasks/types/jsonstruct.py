"""Checked conversion between JSON-like Python values and ``google.protobuf.Struct``.

A Struct stores every number as a double and has no JSON encoding for NaN or
infinities, so values that would not survive the trip are refused up front with a
message that says where they are, instead of being silently changed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import struct_pb2

from plugins.tasks.types.engine import describe_value

__all__ = ["MAX_SAFE_INT", "dict_to_struct", "struct_to_dict"]

MAX_SAFE_INT = 2**53
"""The largest magnitude of an int that a double (hence a Struct) holds exactly."""


def dict_to_struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """Build a Struct from a mapping of JSON values.

    Raises:
        TypeError: A key is not a str, or a value is not JSON (the message gives its path).
        ValueError: An int beyond ``2**53`` or a non-finite float.
    """
    struct = struct_pb2.Struct()
    _fill_struct(struct, value, "")
    return struct


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Turn a Struct into a dict; integral numbers come back as ``int``.

    A Struct cannot tell ``1`` from ``1.0``; ints are far more common in JSON, so
    integral numbers are read as ints.
    """
    return {key: _from_value(item) for key, item in struct.fields.items()}


def _fill_struct(struct: struct_pb2.Struct, value: Mapping[str, Any], path: str) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{path or 'dict'}: keys must be str, got {describe_value(key)}")
        _fill_value(struct.fields[key], item, f"{path}[{key!r}]")


def _fill_value(target: struct_pb2.Value, item: Any, path: str) -> None:
    if item is None:
        target.null_value = struct_pb2.NULL_VALUE
    elif isinstance(item, bool):
        target.bool_value = item
    elif isinstance(item, int):
        if abs(item) > MAX_SAFE_INT:
            raise ValueError(
                f"{path}: int {item} is beyond 2**53 and cannot be stored exactly in a "
                "Struct (its numbers are doubles); pass it as a str"
            )
        target.number_value = float(item)
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise ValueError(f"{path}: {item} cannot be stored in a Struct (not valid JSON)")
        target.number_value = item
    elif isinstance(item, str):
        target.string_value = item
    elif isinstance(item, Mapping):
        target.struct_value.SetInParent()
        _fill_struct(target.struct_value, item, path)
    elif isinstance(item, list):
        target.list_value.SetInParent()
        for index, element in enumerate(item):
            _fill_value(target.list_value.values.add(), element, f"{path}[{index}]")
    else:
        raise TypeError(
            f"{path or 'value'}: expected a JSON value (None, bool, int, float, str, list, "
            f"dict), got {describe_value(item)}"
        )


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= MAX_SAFE_INT:
            return int(number)
        return number
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return [_from_value(item) for item in value.list_value.values]
    if kind in ("string_value", "bool_value"):
        return getattr(value, kind)
    return None
