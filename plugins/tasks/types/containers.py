"""Containers: ``list[T]``, ``dict[str, T]``, untyped ``dict`` (Struct or msgpack) and Enum."""

from __future__ import annotations

import enum
import typing
from collections.abc import Mapping
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from plugins.tasks.types.binary import (
    check_json_like,
    msgpack_annotation,
    msgpack_literal,
    read_json_like,
    wants_msgpack,
)
from plugins.tasks.types.engine import (
    CONVERSION_ERRORS,
    TransformContext,
    TypeEngine,
    TypeTransformer,
    literal_kind,
    mismatch,
    strip_annotated,
    type_name,
    with_context,
)
from plugins.tasks.types.jsonstruct import dict_to_struct

__all__ = ["DictTransformer", "EnumTransformer", "ListTransformer"]


class ListTransformer(TypeTransformer[list[Any]]):
    """``list[T]``: a collection type and a ``LiteralCollection``."""

    def __init__(self) -> None:
        super().__init__("list", list)

    def matches(self, python_type: Any) -> bool:
        """``list`` and ``list[T]``."""
        return python_type is list or typing.get_origin(python_type) is list

    @staticmethod
    def _item_type(python_type: Any) -> Any:
        args = typing.get_args(python_type)
        if len(args) != 1:
            raise TypeError(
                f"unsupported type {python_type!r}: a list needs its item type, e.g. list[int]"
            )
        return args[0]

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(collection_type=<T>)``."""
        item = TypeEngine.to_literal_type(self._item_type(python_type))
        return types_pb2.LiteralType(collection_type=item)

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """Convert each item; an error names the item's index."""
        if not isinstance(value, list | tuple):
            raise mismatch(python_type, value)
        item_type = self._item_type(python_type)
        collection = literals_pb2.LiteralCollection()
        for index, item in enumerate(value):
            try:
                collection.literals.append(TypeEngine.to_literal(ctx, item, item_type))
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"item {index}") from exc
        return literals_pb2.Literal(collection=collection)

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> list[Any]:
        """A list of the converted items."""
        if literal.WhichOneof("value") != "collection":
            raise TypeError(f"expected a collection literal, got {literal_kind(literal)}")
        item_type = self._item_type(python_type)
        result = []
        for index, item in enumerate(literal.collection.literals):
            try:
                result.append(TypeEngine.to_python_value(ctx, item, item_type))
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"item {index}") from exc
        return result

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """``list[<guess of the item type>]``."""
        if literal_type.WhichOneof("type") == "collection_type":
            return list[TypeEngine.guess_python_type(literal_type.collection_type)]  # type: ignore[misc]
        return super().guess_python_type(literal_type)


class DictTransformer(TypeTransformer[dict[str, Any]]):
    """``dict[str, T]`` as a map type; ``dict`` and ``dict[str, Any]`` as a JSON Struct."""

    def __init__(self) -> None:
        super().__init__("dict", dict)

    def matches(self, python_type: Any) -> bool:
        """``dict`` and ``dict[K, V]``."""
        return python_type is dict or typing.get_origin(python_type) is dict

    @staticmethod
    def _value_type(python_type: Any) -> Any | None:
        """The value type of a typed map, or None for an untyped (Struct) dict."""
        args = typing.get_args(python_type)
        if not args:
            return None
        key, value = (strip_annotated(arg) for arg in args)
        if value is Any and key in (str, Any):
            return None
        if key is not str:
            raise TypeError(
                f"unsupported type {python_type!r}: dict keys must be str (flyteidl maps "
                f"have string keys), got {type_name(key)}"
            )
        return value

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(map_value_type=<T>)``, or simple STRUCT (msgpack values) when untyped.

        An untyped dict is typed as flytekit 1.16 types it: STRUCT with the annotation
        that says its values are msgpack, so flytekit reads ours (ints stay ints).
        """
        value_type = self._value_type(python_type)
        if value_type is None:
            return types_pb2.LiteralType(simple=types_pb2.STRUCT, annotation=msgpack_annotation())
        return types_pb2.LiteralType(map_value_type=TypeEngine.to_literal_type(value_type))

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """A ``LiteralMap``; for an untyped dict, msgpack ``Binary``.

        A Struct for a type without flytekit's msgpack annotation (older templates).
        """
        if not isinstance(value, Mapping):
            raise mismatch(python_type, value)
        value_type = self._value_type(python_type)
        if value_type is None:
            if wants_msgpack(literal_type):  # what flytekit 1.16 writes, and so do we
                check_json_like(value, "dict")
                return msgpack_literal(dict(value))
            struct = dict_to_struct(value)
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
        result = literals_pb2.LiteralMap()
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"dict keys must be str, got {type(key).__qualname__} {key!r}")
            try:
                result.literals[key].CopyFrom(TypeEngine.to_literal(ctx, item, value_type))
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"key {key!r}") from exc
        return literals_pb2.Literal(map=result)

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> dict[str, Any]:
        """A dict of the converted values."""
        value_type = self._value_type(python_type)
        if value_type is None:
            data = read_json_like(literal)  # a Struct, or flytekit's msgpack
            if not isinstance(data, dict):
                raise TypeError(f"expected a dict, got {type(data).__name__}")
            return data
        if literal.WhichOneof("value") != "map":
            raise TypeError(f"expected a map literal, got {literal_kind(literal)}")
        result = {}
        for key, item in literal.map.literals.items():
            try:
                result[key] = TypeEngine.to_python_value(ctx, item, value_type)
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"key {key!r}") from exc
        return result

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """``dict[str, <guess>]`` for maps; ``dict[str, Any]`` for simple STRUCT."""
        kind = literal_type.WhichOneof("type")
        if kind == "map_value_type":
            return dict[str, TypeEngine.guess_python_type(literal_type.map_value_type)]  # type: ignore[misc]
        if kind == "simple" and literal_type.simple == types_pb2.STRUCT:
            return dict[str, Any]
        return super().guess_python_type(literal_type)


class EnumTransformer(TypeTransformer[enum.Enum]):
    """Enum subclasses with str values: an enum type and a string literal."""

    def __init__(self) -> None:
        super().__init__("enum", enum.Enum)

    def matches(self, python_type: Any) -> bool:
        """Every Enum subclass (checked before its mixed-in base such as str)."""
        return isinstance(python_type, type) and issubclass(python_type, enum.Enum)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(enum_type=EnumType(values=[...]))``.

        Raises:
            TypeError: A member's value is not a str, or there are no members.
        """
        members = list(python_type)
        if not members:
            raise TypeError(f"unsupported type {python_type!r}: an Enum needs members")
        bad = [m for m in members if not isinstance(m.value, str)]
        if bad:
            raise TypeError(
                f"unsupported type {python_type!r}: Enum values must be str (flyteidl "
                f"enums are strings), got {bad[0].name}={bad[0].value!r}"
            )
        return types_pb2.LiteralType(
            enum_type=types_pb2.EnumType(values=[m.value for m in members])
        )

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """The member's value as a string literal; a member's str value is accepted too."""
        if isinstance(value, python_type):
            text = value.value
        elif isinstance(value, str) and value in literal_type.enum_type.values:
            # Inputs that arrive as JSON carry the value, not the member.
            text = value
        else:
            raise mismatch(
                f"{type_name(python_type)} (one of {list(literal_type.enum_type.values)})", value
            )
        primitive = literals_pb2.Primitive(string_value=text)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> enum.Enum:
        """The member with the literal's value; an unknown value is a ValueError."""
        if literal.scalar.primitive.WhichOneof("value") != "string_value":
            raise TypeError(f"expected a string literal, got {literal_kind(literal)}")
        text = literal.scalar.primitive.string_value
        try:
            member: enum.Enum = python_type(text)
        except ValueError:
            values = [m.value for m in python_type]
            raise ValueError(
                f"expected one of {type_name(python_type)} values {values}, got {text!r}"
            ) from None
        return member

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """A new Enum class whose members have the type's values."""
        if literal_type.WhichOneof("type") != "enum_type":
            return super().guess_python_type(literal_type)
        values = list(literal_type.enum_type.values)
        try:
            return enum.Enum("GuessedEnum", [(v, v) for v in values])
        except (ValueError, TypeError):
            # Some values are not usable as member names (``_x_``, duplicates of dunders).
            return enum.Enum("GuessedEnum", [(f"value_{i}", v) for i, v in enumerate(values)])
