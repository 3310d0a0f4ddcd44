"""JSON-like values as flytekit 1.16 writes them: msgpack in a ``Binary`` scalar.

flytekit encodes dataclasses, pydantic models and untyped ``dict`` values as
``scalar.binary`` with the tag ``msgpack`` (not as a Struct), and marks such types in
an interface with the annotation ``cache-key-metadata.serialization-format: msgpack``.
Our transformers type them the same way, so they write msgpack too, and read both
forms (a Struct is what they wrote before, and what a type without the annotation
still gets). msgpack keeps ints as ints, which a Struct (doubles only) cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgpack
from flyteidl.core import literals_pb2, types_pb2

from plugins.tasks.types.engine import literal_kind
from plugins.tasks.types.jsonstruct import struct_to_dict

__all__ = [
    "MSGPACK_TAG",
    "check_json_like",
    "msgpack_annotation",
    "msgpack_literal",
    "read_json_like",
    "wants_msgpack",
]

MIN_INT, MAX_INT = -(2**63), 2**64 - 1
"""The ints msgpack holds."""

MSGPACK_TAG = "msgpack"
"""The tag of flytekit's msgpack ``Binary`` literals."""


def msgpack_annotation() -> types_pb2.TypeAnnotation:
    """Flytekit's annotation of a type whose values are msgpack."""
    annotation = types_pb2.TypeAnnotation()
    metadata = annotation.annotations.fields["cache-key-metadata"].struct_value
    metadata.fields["serialization-format"].string_value = MSGPACK_TAG
    return annotation


def wants_msgpack(literal_type: types_pb2.LiteralType) -> bool:
    """Whether the type says its values are msgpack (flytekit's annotation)."""
    annotation = literal_type.annotation.annotations
    if "cache-key-metadata" not in annotation.fields:
        return False
    metadata = annotation.fields["cache-key-metadata"].struct_value
    fmt = metadata.fields.get("serialization-format")
    return fmt is not None and fmt.string_value == MSGPACK_TAG


def check_json_like(value: Any, path: str = "value") -> None:
    """Refuse what JSON could not hold: non-text keys, sets, objects...

    Raises:
        TypeError: Names the first offending path and type.
        ValueError: An int msgpack cannot hold (beyond 64 bits), with its path.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not MIN_INT <= value <= MAX_INT:
            raise ValueError(
                f"{path}: int {value} does not fit in 64 bits, as msgpack stores ints; "
                "pass it as a str"
            )
        return
    if value is None or isinstance(value, bool | float | str):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be str, got {type(key).__name__} {key!r}")
            check_json_like(item, f"{path}.{key}")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_json_like(item, f"{path}[{index}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not JSON-like")


def msgpack_literal(data: Any) -> literals_pb2.Literal:
    """``data`` (JSON-like) as flytekit's msgpack Binary literal.

    Raises:
        TypeError: ``data`` holds something msgpack cannot encode.
    """
    try:
        packed = msgpack.packb(data, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"cannot encode as msgpack: {exc}") from exc
    binary = literals_pb2.Binary(value=packed, tag=MSGPACK_TAG)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=binary))


def read_json_like(literal: literals_pb2.Literal) -> Any:
    """The JSON-like value of a Struct or msgpack Binary literal.

    Raises:
        TypeError: The literal is neither.
        ValueError: The msgpack bytes do not decode.
    """
    kind = literal.scalar.WhichOneof("value")
    if kind == "generic":
        return struct_to_dict(literal.scalar.generic)
    if kind == "binary" and literal.scalar.binary.tag == MSGPACK_TAG:
        try:
            return msgpack.unpackb(literal.scalar.binary.value, raw=False, strict_map_key=False)
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, ValueError) as exc:
            raise ValueError(f"a msgpack literal does not decode: {exc}") from exc
    raise TypeError(f"expected a Struct or msgpack literal, got {literal_kind(literal)}")
