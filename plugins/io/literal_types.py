"""Whether a literal fits a declared :class:`LiteralType`, as FlytePropeller checks one.

Through collections, maps and unions; an integer is accepted where a float is declared
(it converts without loss); a type this check does not know is accepted as it is. Used
for a submission's inputs and an attempt's outputs alike.
"""

from __future__ import annotations

from collections.abc import Callable

from flyteidl.core import literals_pb2, types_pb2

__all__ = ["type_problem"]

_SIMPLE: dict[int, tuple[str, ...]] = {
    types_pb2.NONE: ("none_type",),
    types_pb2.INTEGER: ("integer",),
    types_pb2.FLOAT: ("float_value", "integer"),
    types_pb2.STRING: ("string_value",),
    types_pb2.BOOLEAN: ("boolean",),
    types_pb2.DATETIME: ("datetime",),
    types_pb2.DURATION: ("duration",),
    types_pb2.BINARY: ("binary",),
    types_pb2.ERROR: ("error",),
    types_pb2.STRUCT: ("generic", "binary"),
}


def _kind(literal: literals_pb2.Literal) -> str:
    which = literal.WhichOneof("value") or "nothing"
    if which != "scalar":
        return which
    scalar = literal.scalar.WhichOneof("value") or "nothing"
    if scalar == "primitive":
        return literal.scalar.primitive.WhichOneof("value") or "nothing"
    return scalar


Check = Callable[[literals_pb2.Literal, types_pb2.LiteralType, str, str], str]


def type_problem(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, where: str) -> str:
    """What is wrong with ``literal`` as a value of ``lt``, or ``""`` if it fits.

    Args:
        literal: The value.
        lt: Its declared type.
        where: What the value is, to start the message with (``"input 'x'"``).
    """
    which = lt.WhichOneof("type")
    kind = _kind(literal)
    if which is None or kind == "offloaded_metadata":
        return ""  # nothing declared, or nothing here to look at
    check = _CHECKS.get(which)
    return "" if check is None else check(literal, lt, kind, where)


def _simple(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    expected = _SIMPLE.get(lt.simple, ())
    if not expected or kind in expected:
        return ""
    return f"{where}: expected {types_pb2.SimpleType.Name(lt.simple)}, got {kind}"


def _collection(
    literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str
) -> str:
    if kind != "collection":
        return f"{where}: expected a collection, got {kind}"
    for i, item in enumerate(literal.collection.literals):
        problem = type_problem(item, lt.collection_type, f"{where}[{i}]")
        if problem:
            return problem
    return ""


def _map(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    if kind != "map":
        return f"{where}: expected a map, got {kind}"
    for key, item in literal.map.literals.items():
        problem = type_problem(item, lt.map_value_type, f"{where}[{key!r}]")
        if problem:
            return problem
    return ""


def _union(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    variants = lt.union_type.variants
    if kind == "union" or any(not type_problem(literal, v, where) for v in variants):
        return ""
    return f"{where}: {kind} fits none of the union's variants"


def _enum(literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str) -> str:
    values = list(lt.enum_type.values)
    if kind == "string_value" and (not values or literal.scalar.primitive.string_value in values):
        return ""
    return f"{where}: expected one of {values}, got {kind}"


def _scalar(*expected: str) -> Check:
    def check(
        literal: literals_pb2.Literal, lt: types_pb2.LiteralType, kind: str, where: str
    ) -> str:
        del literal
        return "" if kind in expected else f"{where}: expected {lt.WhichOneof('type')}, got {kind}"

    return check


_CHECKS: dict[str, Check] = {
    "simple": _simple,
    "collection_type": _collection,
    "map_value_type": _map,
    "union_type": _union,
    "enum_type": _enum,
    "blob": _scalar("blob"),
    "schema": _scalar("schema", "structured_dataset"),
    "structured_dataset_type": _scalar("structured_dataset", "schema"),
}
