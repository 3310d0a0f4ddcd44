"""The type engine: round trips, golden literal types, dispatch and error messages."""

from __future__ import annotations

import dataclasses
import enum
import math
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Optional, Union

import msgpack
import pydantic
import pytest
from flyteidl.core import literals_pb2, types_pb2
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st

from plugins.io import DataStore
from plugins.tasks.types import (
    Directory,
    File,
    TransformContext,
    TypeEngine,
    TypeTransformer,
)
from plugins.tasks.types.binary import msgpack_annotation

CTX = TransformContext(store=DataStore(), raw_output_prefix="memory://type-engine-tests")

INT64 = st.integers(-(2**63), 2**63 - 1)
SAFE_INT = st.integers(-(2**53), 2**53)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
MAX_DURATION = timedelta(seconds=315_576_000_000)
# Whole minutes: real zones use them, and ISO 8601 (a dataclass field's JSON) has no seconds.
OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
NAIVE = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30))
AWARE = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(2200, 12, 30), timezones=OFFSETS
)
JSON = st.recursive(
    st.none() | st.booleans() | SAFE_INT | FINITE | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
JSON_DICT = st.dictionaries(st.text(), JSON, max_size=5)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1


class Mixed(enum.Enum):
    A = "a"
    B = 2


@dataclasses.dataclass
class Inner:
    name: str
    weight: float


@dataclasses.dataclass
class Outer:
    inner: Inner
    tags: list[str]
    note: str | None
    when: datetime
    color: Color
    count: int


class Model(pydantic.BaseModel):
    id: int
    labels: dict[str, str]
    ratio: float | None = None
    inner: Inner


class Opaque:
    """A class that no transformer handles."""


@dataclasses.dataclass
class HasOpaque:
    thing: Opaque


INNERS = st.builds(Inner, name=st.text(), weight=FINITE)
OUTERS = st.builds(
    Outer,
    inner=INNERS,
    tags=st.lists(st.text(), max_size=3),
    note=st.none() | st.text(),
    when=NAIVE | AWARE,
    color=st.sampled_from(Color),
    count=SAFE_INT,
)
MODELS = st.builds(
    Model,
    id=SAFE_INT,
    labels=st.dictionaries(st.text(), st.text(), max_size=3),
    ratio=st.none() | FINITE,
    inner=INNERS,
)


def roundtrip(value: Any, python_type: Any) -> Any:
    """Python -> Literal -> bytes -> Literal -> Python, so the proto really carries it."""
    literal = TypeEngine.to_literal(CTX, value, python_type)
    parsed = literals_pb2.Literal.FromString(literal.SerializeToString())
    assert parsed == literal
    return TypeEngine.to_python_value(CTX, parsed, python_type)


# --- round trips -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("python_type", "strategy"),
    [
        (int, INT64),
        (float, st.floats(allow_nan=False)),
        (str, st.text()),
        (bool, st.booleans()),
        (timedelta, st.timedeltas(min_value=-MAX_DURATION, max_value=MAX_DURATION)),
        (type(None), st.none()),
        (None, st.none()),
        (Optional[int], st.none() | INT64),  # noqa: UP045 - the typing spelling on purpose
        (int | None, st.none() | INT64),
        (Union[int, str], INT64 | st.text()),  # noqa: UP007 - the typing spelling on purpose
        (list[int], st.lists(INT64)),
        (list[list[str]], st.lists(st.lists(st.text(), max_size=3), max_size=3)),
        (dict[str, float], st.dictionaries(st.text(), st.floats(allow_nan=False))),
        (dict[str, list[bool]], st.dictionaries(st.text(), st.lists(st.booleans()))),
        (dict, JSON_DICT),
        (dict[str, Any], JSON_DICT),
        (Color, st.sampled_from(Color)),
        (Optional[Color], st.none() | st.sampled_from(Color)),  # noqa: UP045
        (list[Color | None], st.lists(st.none() | st.sampled_from(Color))),
        (Inner, INNERS),
        (Outer, OUTERS),
        (list[Outer], st.lists(OUTERS, max_size=2)),
        (Model, MODELS),
        (Annotated[int, "meta"], INT64),
    ],
    ids=repr,
)
@given(data=st.data())
def test_round_trip(
    python_type: Any, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    value = data.draw(strategy)
    assert roundtrip(value, python_type) == value


@given(value=AWARE)
def test_aware_datetime_round_trips_as_utc(value: datetime) -> None:
    back = roundtrip(value, datetime)
    assert back == value
    assert back.tzinfo is UTC


@given(value=NAIVE)
def test_naive_datetime_is_taken_as_utc(value: datetime) -> None:
    back = roundtrip(value, datetime)
    assert back == value.replace(tzinfo=UTC)
    assert back.tzinfo is UTC


def test_nan_round_trips() -> None:
    assert math.isnan(roundtrip(math.nan, float))


@given(value=SAFE_INT)
def test_float_accepts_an_int(value: int) -> None:
    back = roundtrip(value, float)
    assert isinstance(back, float)
    assert back == float(value)


def test_a_struct_literal_reads_integral_floats_as_int() -> None:
    # Untyped dicts written before msgpack (and by other tools) are Structs: doubles only.
    struct = struct_pb2.Struct()
    struct.update({"a": 2.0, "b": 2.5, "c": [1.0]})
    literal = literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))
    back = TypeEngine.to_python_value(CTX, literal, dict)
    assert back == {"a": 2, "b": 2.5, "c": [1]}
    assert type(back["a"]) is int
    assert type(back["b"]) is float


def test_untyped_dicts_keep_ints_and_floats_apart() -> None:
    # msgpack, as flytekit writes them: 2 and 2.0 stay what they were, big ints too.
    back = roundtrip({"a": 2.0, "b": 2, "big": 2**60, "c": [1.0, 1]}, dict)
    assert back == {"a": 2.0, "b": 2, "big": 2**60, "c": [1.0, 1]}
    assert [type(back["a"]), type(back["b"])] == [float, int]
    assert [type(v) for v in back["c"]] == [float, int]


def test_union_prefers_the_exact_type() -> None:
    int_or_float = int | float
    assert type(roundtrip(1, int_or_float)) is int
    assert type(roundtrip(1.5, int_or_float)) is float
    assert type(roundtrip(1, float | int)) is int
    assert roundtrip(True, int | bool) is True
    assert roundtrip(Color.RED, str | Color) is Color.RED
    assert roundtrip("red", str | Color) == "red"


def test_union_literal_carries_the_tagged_variant() -> None:
    literal = TypeEngine.to_literal(CTX, None, Optional[int])  # noqa: UP045
    union = literal.scalar.union
    assert union.value.scalar.WhichOneof("value") == "none_type"
    assert union.type == types_pb2.LiteralType(
        simple=types_pb2.NONE,
        structure=types_pb2.TypeStructure(tag="none"),  # flytekit's tag
    )
    literal = TypeEngine.to_literal(CTX, [], list[int] | list[str])
    assert literal.scalar.union.type.structure.tag == "list[int]"
    literal = TypeEngine.to_literal(CTX, ["a"], list[int] | list[str])
    assert literal.scalar.union.type.structure.tag == "list[str]"


def test_union_reads_the_old_none_tag() -> None:
    # Literals stored before the tag became flytekit's "none" still read back.
    literal = TypeEngine.to_literal(CTX, None, Optional[int])  # noqa: UP045
    literal.scalar.union.type.structure.tag = "None"
    assert TypeEngine.to_python_value(CTX, literal, Optional[int]) is None  # noqa: UP045


def test_union_reads_a_plain_literal() -> None:
    literal = TypeEngine.to_literal(CTX, 5, int)
    assert TypeEngine.to_python_value(CTX, literal, int | None) == 5
    none = TypeEngine.to_literal(CTX, None, None)
    assert TypeEngine.to_python_value(CTX, none, int | None) is None


def test_enum_accepts_its_str_value() -> None:
    literal = TypeEngine.to_literal(CTX, "green", Color)
    assert literal.scalar.primitive.string_value == "green"
    assert TypeEngine.to_python_value(CTX, literal, Color) is Color.GREEN


def test_dataclass_accepts_a_mapping() -> None:
    value = {"name": "n", "weight": 2}
    assert roundtrip(value, Inner) == Inner("n", 2.0)


def test_dataclass_literal_is_msgpack_of_its_json() -> None:
    value = Outer(Inner("n", 1.5), ["t"], None, datetime(2024, 1, 2, tzinfo=UTC), Color.RED, 3)
    literal = TypeEngine.to_literal(CTX, value, Outer)
    assert literal.scalar.binary.tag == "msgpack"
    expected = pydantic.TypeAdapter(Outer).dump_python(value, mode="json")
    assert msgpack.unpackb(literal.scalar.binary.value) == expected


# --- golden literal types ----------------------------------------------------------


def lt(**kwargs: Any) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(**kwargs)


def tagged(literal_type: types_pb2.LiteralType, tag: str) -> types_pb2.LiteralType:
    result = types_pb2.LiteralType()
    result.CopyFrom(literal_type)
    result.structure.tag = tag
    return result


GOLDEN: list[tuple[Any, types_pb2.LiteralType]] = [
    (int, lt(simple=types_pb2.INTEGER)),
    (float, lt(simple=types_pb2.FLOAT)),
    (str, lt(simple=types_pb2.STRING)),
    (bool, lt(simple=types_pb2.BOOLEAN)),
    (datetime, lt(simple=types_pb2.DATETIME)),
    (timedelta, lt(simple=types_pb2.DURATION)),
    (type(None), lt(simple=types_pb2.NONE)),
    (None, lt(simple=types_pb2.NONE)),
    (dict, lt(simple=types_pb2.STRUCT, annotation=msgpack_annotation())),
    (dict[str, Any], lt(simple=types_pb2.STRUCT, annotation=msgpack_annotation())),
    (typing.Dict, lt(simple=types_pb2.STRUCT, annotation=msgpack_annotation())),  # noqa: UP006
    (list[int], lt(collection_type=lt(simple=types_pb2.INTEGER))),
    (typing.List[str], lt(collection_type=lt(simple=types_pb2.STRING))),  # noqa: UP006
    (list[list[bool]], lt(collection_type=lt(collection_type=lt(simple=types_pb2.BOOLEAN)))),
    (dict[str, float], lt(map_value_type=lt(simple=types_pb2.FLOAT))),
    (
        dict[str, list[int]],
        lt(map_value_type=lt(collection_type=lt(simple=types_pb2.INTEGER))),
    ),
    (Color, lt(enum_type=types_pb2.EnumType(values=["red", "green"]))),
    (
        Optional[int],  # noqa: UP045
        lt(
            union_type=types_pb2.UnionType(
                variants=[
                    tagged(lt(simple=types_pb2.INTEGER), "int"),
                    tagged(lt(simple=types_pb2.NONE), "none"),
                ]
            )
        ),
    ),
    (
        str | list[int] | None,
        lt(
            union_type=types_pb2.UnionType(
                variants=[
                    tagged(lt(simple=types_pb2.STRING), "str"),
                    tagged(lt(collection_type=lt(simple=types_pb2.INTEGER)), "list[int]"),
                    tagged(lt(simple=types_pb2.NONE), "none"),
                ]
            )
        ),
    ),
    (
        File,
        lt(blob=types_pb2.BlobType(format="", dimensionality=types_pb2.BlobType.SINGLE)),
    ),
    (
        Directory,
        lt(blob=types_pb2.BlobType(format="", dimensionality=types_pb2.BlobType.MULTIPART)),
    ),
    (Annotated[list[int], "meta"], lt(collection_type=lt(simple=types_pb2.INTEGER))),
]


@pytest.mark.parametrize(("python_type", "expected"), GOLDEN, ids=repr)
def test_golden_literal_type(python_type: Any, expected: types_pb2.LiteralType) -> None:
    assert TypeEngine.to_literal_type(python_type) == expected


@pytest.mark.parametrize("python_type", [Inner, Outer, Model])
def test_structured_literal_type_carries_the_json_schema(python_type: Any) -> None:
    expected = struct_pb2.Struct()
    expected.update(pydantic.TypeAdapter(python_type).json_schema())
    assert TypeEngine.to_literal_type(python_type) == lt(
        simple=types_pb2.STRUCT, metadata=expected, annotation=msgpack_annotation()
    )


@pytest.mark.parametrize(
    "python_type",
    [
        int,
        float,
        str,
        bool,
        datetime,
        timedelta,
        type(None),
        list[int],
        dict[str, list[float]],
        dict[str, Any],
        int | None,
        str | list[int] | None,
        File,
        Directory,
    ],
    ids=repr,
)
def test_guess_python_type_inverts_to_literal_type(python_type: Any) -> None:
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(python_type)) == python_type


def test_guess_python_type_of_enum_and_struct() -> None:
    guessed = TypeEngine.guess_python_type(TypeEngine.to_literal_type(Color))
    assert issubclass(guessed, enum.Enum)
    assert [m.value for m in guessed] == ["red", "green"]
    assert TypeEngine.guess_python_type(TypeEngine.to_literal_type(Outer)) == dict[str, Any]
    odd = TypeEngine.guess_python_type(lt(enum_type=types_pb2.EnumType(values=["_x_", "a b"])))
    assert [m.value for m in odd] == ["_x_", "a b"]


def test_guess_python_type_of_unknown_type_is_an_error() -> None:
    with pytest.raises(TypeError, match="cannot guess"):
        TypeEngine.guess_python_type(lt(schema=types_pb2.SchemaType()))


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "python_type",
    [
        set,
        set[int],
        bytes,
        complex,
        object,
        Any,
        Opaque,
        tuple[int, str],
        frozenset[str],
        list,
        list[set[int]],
        dict[int, str],
        dict[str, bytes],
        int | bytes,
        Level,
        Mixed,
        HasOpaque,
    ],
    ids=repr,
)
def test_unsupported_types_are_type_errors(python_type: Any) -> None:
    with pytest.raises(TypeError, match="unsupported type"):
        TypeEngine.to_literal_type(python_type)
    with pytest.raises(TypeError, match="unsupported type"):
        TypeEngine.to_literal(CTX, None, python_type)


def test_enum_with_non_str_values_names_the_member() -> None:
    with pytest.raises(TypeError, match=r"Enum values must be str.*B=2"):
        TypeEngine.to_literal_type(Mixed)


def test_dict_with_int_keys_names_the_key_type() -> None:
    with pytest.raises(TypeError, match="dict keys must be str"):
        TypeEngine.to_literal_type(dict[int, str])


@pytest.mark.parametrize(
    ("python_type", "value", "error", "message"),
    [
        (int, "a", TypeError, "expected int, got str 'a'"),
        (int, True, TypeError, "expected int, got bool True"),
        (int, 1.0, TypeError, "expected int, got float 1.0"),
        (int, 2**63, ValueError, "within 64 bits"),
        (bool, 1, TypeError, "expected bool, got int 1"),
        (float, "1.5", TypeError, "expected float, got str '1.5'"),
        (float, True, TypeError, "expected float, got bool True"),
        (float, 10**400, ValueError, "too large"),
        (str, 1, TypeError, "expected str, got int 1"),
        (datetime, "2020-01-01", TypeError, "expected datetime, got str"),
        (timedelta, 5, TypeError, "expected timedelta, got int 5"),
        (timedelta, MAX_DURATION + timedelta(days=1), ValueError, "out of range"),
        (type(None), 0, TypeError, "expected None, got int 0"),
        (list[int], "abc", TypeError, r"expected list\[int\], got str 'abc'"),
        (list[int], [1, "x"], TypeError, "item 1: expected int, got str 'x'"),
        (dict[str, int], [1], TypeError, r"expected dict\[str, int\], got list"),
        (dict[str, int], {"k": "v"}, TypeError, "key 'k': expected int, got str 'v'"),
        (dict[str, int], {1: 1}, TypeError, "dict keys must be str"),
        (dict, {"a": {1, 2}}, TypeError, r"dict\.a: set is not JSON-like"),
        (dict, {"a": [object()]}, TypeError, r"dict\.a\[0\]: object is not JSON-like"),
        (dict, {1: "a"}, TypeError, "keys must be str"),
        (dict, {"a": [2**64]}, ValueError, r"dict\.a\[0\]: int 18446744073709551616 does not fit"),
        (dict, {"a": -(2**63) - 1}, ValueError, "does not fit in 64 bits"),
        (Color, "purple", TypeError, r"expected Color \(one of \['red', 'green'\]\)"),
        (Color, 1, TypeError, "got int 1"),
        (int | None, "a", TypeError, "expected int | None, got str 'a'"),
        (Inner, "x", TypeError, "expected Inner, got str 'x'"),
        (Inner, {"name": "n"}, ValueError, "expected Inner"),
        (Inner, Inner("n", "heavy"), ValueError, "cannot serialize"),  # type: ignore[arg-type]
        (Model, Inner("n", 1.0), TypeError, "expected Model, got Inner"),
        (
            Outer,
            Outer(Inner("n", 1.0), [], None, datetime(2000, 1, 1), Color.RED, 2**64),
            ValueError,
            r"Outer\.count: int .* does not fit in 64 bits",
        ),
        (File, 3, TypeError, "expected File, got int 3"),
        (Directory, File("x"), TypeError, "expected Directory, got File"),
    ],
    ids=repr,
)
def test_wrong_values(python_type: Any, value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        TypeEngine.to_literal(CTX, value, python_type)


@pytest.mark.parametrize(
    ("literal_from", "python_type", "message"),
    [
        ((1, int), str, "expected a string_value literal for str, got an integer literal"),
        (("a", str), int, "expected an integer literal"),
        ((1, int), list[int], "expected a collection literal"),
        (([1], list[int]), dict[str, int], "expected a map literal"),
        ((1, int), dict, r"expected a Struct or msgpack literal"),
        ((1, int), Inner, r"expected a Struct or msgpack literal"),
        ((1, int), type(None), "expected a none literal"),
        (("a", str), int | None, "expected int | None, got a string_value literal"),
        ((1, int), File, "expected a blob literal"),
    ],
    ids=repr,
)
def test_wrong_literals(literal_from: tuple[Any, Any], python_type: Any, message: str) -> None:
    literal = TypeEngine.to_literal(CTX, *literal_from)
    with pytest.raises(TypeError, match=message):
        TypeEngine.to_python_value(CTX, literal, python_type)


def test_unknown_enum_value_is_a_value_error() -> None:
    literal = TypeEngine.to_literal(CTX, "blue", str)
    with pytest.raises(ValueError, match=r"expected one of Color values \['red', 'green'\]"):
        TypeEngine.to_python_value(CTX, literal, Color)


def test_invalid_struct_for_a_dataclass_is_a_value_error() -> None:
    literal = TypeEngine.to_literal(CTX, {"name": 1}, dict)
    with pytest.raises(ValueError, match="expected Inner"):
        TypeEngine.to_python_value(CTX, literal, Inner)


# --- literal maps ------------------------------------------------------------------

TYPES = {"x": int, "tags": list[str], "color": Color | None}


def test_literal_map_round_trip() -> None:
    values = {"x": 1, "tags": ["a"], "color": Color.RED}
    lm = TypeEngine.dict_to_literal_map(CTX, values, TYPES)
    assert set(lm.literals) == {"x", "tags", "color"}
    parsed = literals_pb2.LiteralMap.FromString(lm.SerializeToString())
    assert TypeEngine.literal_map_to_kwargs(CTX, parsed, TYPES) == values


def test_dict_to_literal_map_names_the_input() -> None:
    with pytest.raises(TypeError, match=r"^input 'x': expected int, got str 'a'$"):
        TypeEngine.dict_to_literal_map(CTX, {"x": "a", "tags": [], "color": None}, TYPES)
    with pytest.raises(TypeError, match=r"^input 'tags': item 0: expected str, got int 1$"):
        TypeEngine.dict_to_literal_map(CTX, {"x": 1, "tags": [1], "color": None}, TYPES)
    with pytest.raises(ValueError, match=r"input 'd': dict\.k: int .* does not fit in 64 bits"):
        TypeEngine.dict_to_literal_map(CTX, {"d": {"k": 2**64}}, {"d": dict})


def test_dict_to_literal_map_names_missing_and_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"missing input\(s\) 'tags'; unknown input\(s\) 'y'"):
        TypeEngine.dict_to_literal_map(CTX, {"x": 1, "color": None, "y": 2}, TYPES)


def test_literal_map_to_kwargs_names_the_input() -> None:
    lm = TypeEngine.dict_to_literal_map(CTX, {"x": "a"}, {"x": str})
    with pytest.raises(TypeError, match=r"^input 'x': expected an integer literal"):
        TypeEngine.literal_map_to_kwargs(CTX, lm, {"x": int})
    with pytest.raises(ValueError, match=r"missing input\(s\) 'y'"):
        TypeEngine.literal_map_to_kwargs(CTX, lm, {"x": str, "y": int})
    with pytest.raises(ValueError, match=r"unknown input\(s\) 'x'"):
        TypeEngine.literal_map_to_kwargs(CTX, lm, {})


def test_unsupported_input_type_names_the_input() -> None:
    with pytest.raises(TypeError, match=r"^input 'b': unsupported type <class 'bytes'>"):
        TypeEngine.dict_to_literal_map(CTX, {"b": b""}, {"b": bytes})


# --- registration ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class PointTransformer(TypeTransformer[Point]):
    """Stores a Point as the string ``"x,y"``."""

    def __init__(self) -> None:
        super().__init__("point", Point)

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        return types_pb2.LiteralType(simple=types_pb2.STRING)

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        return TypeEngine.to_literal(ctx, f"{value.x},{value.y}", str)

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Point:
        x, y = literal.scalar.primitive.string_value.split(",")
        return Point(int(x), int(y))


def test_registered_transformer_takes_precedence() -> None:
    # Point is a dataclass, so before registration it is a Struct.
    assert TypeEngine.to_literal_type(Point).simple == types_pb2.STRUCT
    saved = TypeEngine._transformers
    try:
        TypeEngine.register(PointTransformer())
        assert TypeEngine.to_literal_type(Point) == lt(simple=types_pb2.STRING)
        literal = TypeEngine.to_literal(CTX, Point(1, 2), Point)
        assert literal.scalar.primitive.string_value == "1,2"
        assert roundtrip([Point(3, 4)], list[Point]) == [Point(3, 4)]
        assert isinstance(TypeEngine.get_transformer(Point), PointTransformer)
    finally:
        TypeEngine._transformers = saved
    assert TypeEngine.to_literal_type(Point).simple == types_pb2.STRUCT


def test_register_rejects_non_transformers() -> None:
    with pytest.raises(TypeError, match="expected a TypeTransformer"):
        TypeEngine.register(int)  # type: ignore[arg-type]


def test_local_context_is_a_process_wide_file_prefix() -> None:
    first, second = TransformContext.local(), TransformContext.local()
    assert first.raw_output_prefix.startswith("file://")
    assert first.raw_output_prefix == second.raw_output_prefix
