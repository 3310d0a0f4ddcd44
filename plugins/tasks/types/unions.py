"""``Optional[T]``, ``T | None`` and ``Union[...]`` (flytekit's UnionTransformer)."""

from __future__ import annotations

import functools
import operator
import types
import typing
from typing import Any

from flyteidl.core import literals_pb2, types_pb2

from plugins.tasks.types.engine import (
    CONVERSION_ERRORS,
    TransformContext,
    TypeEngine,
    TypeTransformer,
    describe_value,
    literal_kind,
    strip_annotated,
    type_name,
)

__all__ = ["UnionTransformer"]


def _is_union(python_type: Any) -> bool:
    origin = typing.get_origin(python_type)
    return origin is typing.Union or origin is types.UnionType


def _runtime_class(python_type: Any) -> Any:
    """The class that a value of ``python_type`` has: ``list`` for ``list[int]``."""
    python_type = strip_annotated(python_type)
    return typing.get_origin(python_type) or python_type


class UnionTransformer(TypeTransformer[object]):
    """A union type whose variants carry a ``structure.tag``; a ``union`` scalar literal.

    The tag of a variant is its readable type name (``int``, ``list[str]``, ``None``), so
    a reader knows which variant a value was written as even when two variants have
    the same flyteidl type (``list[int] | list[str]`` of an empty list).
    """

    def __init__(self) -> None:
        super().__init__("union", object)

    def matches(self, python_type: Any) -> bool:
        """``Union[...]``, ``Optional[T]`` and ``A | B``."""
        return _is_union(python_type)

    @staticmethod
    def _variants(python_type: Any) -> list[tuple[Any, types_pb2.LiteralType]]:
        variants = []
        tags: dict[str, Any] = {}
        for variant in typing.get_args(python_type):
            literal_type = types_pb2.LiteralType()
            literal_type.CopyFrom(TypeEngine.to_literal_type(variant))
            # flytekit's tag for the None variant is "none" (it rejects ours, "None").
            tag = "none" if variant is type(None) else type_name(variant)
            if tag in tags:
                raise TypeError(
                    f"unsupported type {python_type!r}: variants {tags[tag]!r} and "
                    f"{variant!r} have the same name {tag!r}, so they cannot be told apart"
                )
            tags[tag] = variant
            literal_type.structure.tag = tag
            variants.append((variant, literal_type))
        return variants

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(union_type=UnionType(variants=[...]))`` with tagged variants."""
        variants = [lt for _, lt in self._variants(python_type)]
        return types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=variants))

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """The value converted by the best variant, with that variant's type stored.

        A variant whose class is exactly the value's class wins (so ``True`` stays a bool
        in ``int | bool``); otherwise the first variant that accepts the value.
        """
        variants = self._variants(python_type)
        exact = [v for v in variants if _runtime_class(v[0]) is type(value)]
        rest = [v for v in variants if v not in exact]
        failures = []
        for variant, variant_type in exact + rest:
            try:
                inner = TypeEngine.to_literal(ctx, value, variant)
            except CONVERSION_ERRORS as exc:
                failures.append(f"as {type_name(variant)}: {exc}")
                continue
            union = literals_pb2.Union(value=inner, type=variant_type)
            return literals_pb2.Literal(scalar=literals_pb2.Scalar(union=union))
        raise TypeError(
            f"expected {type_name(python_type)}, got {describe_value(value)} "
            f"({'; '.join(failures)})"
        )

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Any:
        """Convert with the variant named by the stored tag.

        Literals written by other tools may carry other tags, or no union at all (a
        plain ``int`` literal for an ``int | None`` input); then each variant is tried.
        """
        variants = self._variants(python_type)
        if literal.scalar.WhichOneof("value") == "union":
            inner = literal.scalar.union.value
            tag = literal.scalar.union.type.structure.tag
            for variant, variant_type in variants:
                if variant_type.structure.tag == tag:
                    return TypeEngine.to_python_value(ctx, inner, variant)
        else:
            inner = literal
        failures = []
        for variant, _ in variants:
            try:
                return TypeEngine.to_python_value(ctx, inner, variant)
            except CONVERSION_ERRORS as exc:
                failures.append(f"as {type_name(variant)}: {exc}")
        raise TypeError(
            f"expected {type_name(python_type)}, got {literal_kind(inner)} ({'; '.join(failures)})"
        )

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """The union of the variants' guesses."""
        if literal_type.WhichOneof("type") != "union_type":
            return super().guess_python_type(literal_type)
        guesses = [TypeEngine.guess_python_type(v) for v in literal_type.union_type.variants]
        return functools.reduce(operator.or_, guesses)
