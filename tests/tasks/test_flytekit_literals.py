"""Literals cross between flytekit's type engine and ours, both ways (property tests).

No ``from __future__ import annotations`` here: flytekit reads dataclass fields'
annotations as objects.
"""

from dataclasses import dataclass
from typing import Any, Optional

import pydantic
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine as FlytekitEngine
from flytekit.models.literals import Literal as FlytekitLiteral
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.tasks.types import TransformContext, TypeEngine

CTX = TransformContext.local()

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@dataclass
class Point:
    x: int
    label: str
    tags: list[str]


def _from_flytekit(value: Any, python_type: Any) -> Any:
    ctx = FlyteContextManager.current_context()
    literal_type = FlytekitEngine.to_literal_type(python_type)
    literal = FlytekitEngine.to_literal(ctx, value, python_type, literal_type)
    return TypeEngine.to_python_value(CTX, literal.to_flyte_idl(), python_type)


def _to_flytekit(value: Any, python_type: Any) -> Any:
    ctx = FlyteContextManager.current_context()
    ours = TypeEngine.to_literal(CTX, value, python_type)
    return FlytekitEngine.to_python_value(ctx, FlytekitLiteral.from_flyte_idl(ours), python_type)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), JSON, max_size=4))
def test_untyped_dicts_from_flytekit_keep_their_ints(value: dict[str, Any]) -> None:
    # flytekit writes msgpack; ints must come back as ints, not floats.
    assert _from_flytekit(value, dict) == value


@settings(max_examples=60, deadline=None)
@given(
    st.builds(
        Point,
        st.integers(-(2**40), 2**40),
        st.text(max_size=5),
        st.lists(st.text(max_size=3), max_size=3),
    )
)
def test_dataclasses_cross_both_ways(point: Point) -> None:
    assert _from_flytekit(point, Point) == point
    assert _to_flytekit(point, Point) == point


@settings(max_examples=30, deadline=None)
@given(st.none() | st.integers(-(2**40), 2**40))
def test_optional_values_cross_both_ways(value: int | None) -> None:
    # flytekit's union tag for None is "none": it reads ours, we read its.
    assert _to_flytekit(value, Optional[int]) == value  # noqa: UP045
    assert _from_flytekit(value, Optional[int]) == value  # noqa: UP045


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=5), JSON, max_size=4))
def test_untyped_dicts_to_flytekit_keep_their_ints(value: dict[str, Any]) -> None:
    # We write msgpack as flytekit does, so flytekit reads our ints as ints.
    back = _to_flytekit(value, dict)
    assert back == value
    assert _types(back) == _types(value)


class Reading(pydantic.BaseModel):
    sensor: str
    values: list[int]
    meta: dict[str, int]


@settings(max_examples=40, deadline=None)
@given(
    st.builds(
        Reading,
        sensor=st.text(max_size=5),
        values=st.lists(st.integers(-(2**40), 2**40), max_size=3),
        meta=st.dictionaries(st.text(max_size=3), st.integers(-(2**40), 2**40), max_size=2),
    )
)
def test_pydantic_models_cross_both_ways(reading: Reading) -> None:
    assert _from_flytekit(reading, Reading) == reading
    assert _to_flytekit(reading, Reading) == reading


def test_our_literal_types_say_msgpack_as_flytekits_do() -> None:
    for python_type in (dict, Point, Reading):
        ours = TypeEngine.to_literal_type(python_type)
        theirs = FlytekitEngine.to_literal_type(python_type).to_flyte_idl()
        assert ours.simple == theirs.simple
        assert ours.annotation == theirs.annotation, python_type


def _types(value: Any) -> Any:
    """The structure of a value's types, so 1 and 1.0 differ."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)
