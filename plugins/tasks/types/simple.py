"""Primitives: int, float, str, bool, datetime, timedelta and None."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import duration_pb2

from plugins.idl import datetime_from_timestamp, timestamp_from_datetime
from plugins.tasks.types.engine import (
    TransformContext,
    TypeTransformer,
    literal_kind,
    mismatch,
    with_article,
)

__all__ = ["NoneTransformer", "SimpleTransformer", "simple_transformers"]

T = TypeVar("T")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# protobuf's Duration is limited to about +-10,000 years.
_MAX_DURATION_SECONDS = 315_576_000_000


class SimpleTransformer(TypeTransformer[T]):
    """A type stored in one field of a flyteidl ``Primitive``.

    Args:
        name: The transformer's name.
        python_type: The Python type.
        simple: The flyteidl simple type.
        field: The ``Primitive`` oneof field that holds the value.
        to_primitive: Builds the ``Primitive`` from a checked value; raises TypeError or
            ValueError for a bad one.
        from_primitive: Reads the value back.
        readable_fields: ``Primitive`` fields accepted on reading (default: ``field``).
    """

    def __init__(
        self,
        name: str,
        python_type: type[T],
        *,
        simple: types_pb2.SimpleType,
        field: str,
        to_primitive: Callable[[Any], literals_pb2.Primitive],
        from_primitive: Callable[[literals_pb2.Primitive], T],
        readable_fields: tuple[str, ...] = (),
    ) -> None:
        super().__init__(name, python_type)
        self._simple = simple
        self._field = field
        self._to_primitive = to_primitive
        self._from_primitive = from_primitive
        self._readable = readable_fields or (field,)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(simple=...)``."""
        return types_pb2.LiteralType(simple=self._simple)

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """A scalar primitive literal."""
        primitive = self._to_primitive(value)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> T:
        """Read the primitive back; a literal of another kind is a TypeError."""
        field = (
            literal.scalar.primitive.WhichOneof("value")
            if literal.scalar.WhichOneof("value") == "primitive"
            else None
        )
        if field not in self._readable:
            raise TypeError(
                f"expected {with_article(self._field)} literal for {self.name}, "
                f"got {literal_kind(literal)}"
            )
        return self._from_primitive(literal.scalar.primitive)

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """This type, for its simple type."""
        if literal_type.WhichOneof("type") == "simple" and literal_type.simple == self._simple:
            return self.python_type
        return super().guess_python_type(literal_type)


class NoneTransformer(TypeTransformer[None]):
    """``None``: simple type NONE, a ``Void`` scalar."""

    def __init__(self) -> None:
        super().__init__("none", type(None))

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(simple=NONE)``."""
        return types_pb2.LiteralType(simple=types_pb2.NONE)

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """A ``none_type`` scalar."""
        if value is not None:
            raise mismatch("None", value)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(none_type=literals_pb2.Void()))

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> None:
        """``None``; any other literal is a TypeError."""
        if literal.scalar.WhichOneof("value") != "none_type":
            raise TypeError(f"expected a none literal, got {literal_kind(literal)}")

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """``type(None)`` for simple NONE."""
        if literal_type.WhichOneof("type") == "simple" and literal_type.simple == types_pb2.NONE:
            return type(None)
        return super().guess_python_type(literal_type)


def _int(value: Any) -> literals_pb2.Primitive:
    # bool is an int subclass, but True for an int parameter is almost always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise mismatch(int, value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"expected an int within 64 bits, got {value}")
    return literals_pb2.Primitive(integer=value)


def _float(value: Any) -> literals_pb2.Primitive:
    # An int is fine where a float is expected (as in Python's own typing rules).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise mismatch(float, value)
    try:
        return literals_pb2.Primitive(float_value=float(value))
    except OverflowError:
        raise ValueError(f"expected a float, got int {value} which is too large") from None


def _from_float(primitive: literals_pb2.Primitive) -> float:
    if primitive.WhichOneof("value") == "integer":
        return float(primitive.integer)
    return primitive.float_value


def _str(value: Any) -> literals_pb2.Primitive:
    if not isinstance(value, str):
        raise mismatch(str, value)
    return literals_pb2.Primitive(string_value=value)


def _bool(value: Any) -> literals_pb2.Primitive:
    if not isinstance(value, bool):
        raise mismatch(bool, value)
    return literals_pb2.Primitive(boolean=value)


def _datetime(value: Any) -> literals_pb2.Primitive:
    if not isinstance(value, datetime):
        raise mismatch(datetime, value)
    try:
        return literals_pb2.Primitive(datetime=timestamp_from_datetime(value))
    except (OverflowError, ValueError) as exc:
        raise ValueError(f"datetime {value} cannot be stored as a Timestamp: {exc}") from exc


def _timedelta(value: Any) -> literals_pb2.Primitive:
    if not isinstance(value, timedelta):
        raise mismatch(timedelta, value)
    # protobuf's Python runtime does not check Duration's range itself.
    if abs(value.days * 86_400 + value.seconds) > _MAX_DURATION_SECONDS:
        raise ValueError(
            f"timedelta {value} is out of range of a protobuf Duration (about +-10,000 years)"
        )
    duration = duration_pb2.Duration()
    duration.FromTimedelta(value)
    return literals_pb2.Primitive(duration=duration)


def simple_transformers() -> list[TypeTransformer[Any]]:
    """The built-in transformers of this module, in registration order."""
    return [
        NoneTransformer(),
        SimpleTransformer(
            "int",
            int,
            simple=types_pb2.INTEGER,
            field="integer",
            to_primitive=_int,
            from_primitive=lambda p: p.integer,
        ),
        SimpleTransformer(
            "float",
            float,
            simple=types_pb2.FLOAT,
            field="float_value",
            to_primitive=_float,
            from_primitive=_from_float,
            readable_fields=("float_value", "integer"),
        ),
        SimpleTransformer(
            "str",
            str,
            simple=types_pb2.STRING,
            field="string_value",
            to_primitive=_str,
            from_primitive=lambda p: p.string_value,
        ),
        SimpleTransformer(
            "bool",
            bool,
            simple=types_pb2.BOOLEAN,
            field="boolean",
            to_primitive=_bool,
            from_primitive=lambda p: p.boolean,
        ),
        SimpleTransformer(
            "datetime",
            datetime,
            simple=types_pb2.DATETIME,
            field="datetime",
            to_primitive=_datetime,
            from_primitive=lambda p: datetime_from_timestamp(p.datetime),
        ),
        SimpleTransformer(
            "timedelta",
            timedelta,
            simple=types_pb2.DURATION,
            field="duration",
            to_primitive=_timedelta,
            from_primitive=lambda p: p.duration.ToTimedelta(),
        ),
    ]
