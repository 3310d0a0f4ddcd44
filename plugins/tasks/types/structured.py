"""Dataclasses and pydantic models: a JSON Struct described by its JSON schema (or msgpack).

Both go through pydantic's ``TypeAdapter``, which validates on the way in and
produces JSON-compatible values on the way out, so nested dataclasses, enums,
datetimes and optional fields work without code of ours.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flyteidl.core import literals_pb2, types_pb2

from plugins.tasks.types.binary import (
    check_json_like,
    msgpack_annotation,
    msgpack_literal,
    read_json_like,
    wants_msgpack,
)
from plugins.tasks.types.engine import (
    TransformContext,
    TypeTransformer,
    describe_value,
    mismatch,
    type_name,
)
from plugins.tasks.types.jsonstruct import dict_to_struct

if TYPE_CHECKING:
    import pydantic

__all__ = ["StructuredTransformer"]

# pydantic is imported when a task first uses a dataclass or a model, not before: the task
# launcher, whose memory each isolated run's fork maps, copies and unmaps, stays without it.


@functools.lru_cache(maxsize=256)
def _adapter(python_type: type[Any]) -> tuple[pydantic.TypeAdapter[Any], dict[str, Any]]:
    """The TypeAdapter and JSON schema of a class; building them is slow, so cache."""
    import pydantic  # noqa: PLC0415 - see above

    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(python_type)
        schema = adapter.json_schema()
    except (pydantic.PydanticUserError, TypeError, ValueError) as exc:
        raise TypeError(
            f"unsupported type {python_type!r}: pydantic cannot describe it: {exc}"
        ) from exc
    return adapter, schema


def _is_model(python_type: Any) -> bool:
    # A model's class exists only once pydantic was imported.
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None
        and isinstance(python_type, type)
        and issubclass(python_type, pydantic.BaseModel)
    )


class StructuredTransformer(TypeTransformer[object]):
    """Dataclasses and pydantic models as simple STRUCT with the JSON schema as metadata."""

    def __init__(self) -> None:
        super().__init__("dataclass/pydantic", object)

    def matches(self, python_type: Any) -> bool:
        """Dataclass classes and ``pydantic.BaseModel`` subclasses."""
        return isinstance(python_type, type) and (
            dataclasses.is_dataclass(python_type) or _is_model(python_type)
        )

    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """``LiteralType(simple=STRUCT, metadata=<JSON schema>)``, annotated as msgpack.

        Raises:
            TypeError: pydantic cannot handle the class (a field of an unsupported type).
        """
        _, schema = _adapter(python_type)
        try:
            metadata = dict_to_struct(schema)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"unsupported type {python_type!r}: its JSON schema: {exc}") from exc
        # Typed as flytekit 1.16 types them: values are msgpack (the annotation says so).
        return types_pb2.LiteralType(
            simple=types_pb2.STRUCT, metadata=metadata, annotation=msgpack_annotation()
        )

    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """The value's JSON form as msgpack ``Binary`` (a Struct for a type without the annotation).

        A mapping is accepted too and validated, since inputs that arrive as JSON
        are dicts rather than instances.
        """
        import pydantic  # noqa: PLC0415 - _adapter imported it
        from pydantic_core import PydanticSerializationError  # noqa: PLC0415

        adapter, _ = _adapter(python_type)
        if isinstance(value, Mapping) and not isinstance(value, python_type):
            try:
                value = adapter.validate_python(dict(value))
            except pydantic.ValidationError as exc:
                raise ValueError(f"expected {type_name(python_type)}: {exc}") from None
        elif not isinstance(value, python_type):
            raise mismatch(python_type, value)
        try:
            # A field holding a value of the wrong type would only warn, and then write
            # data that cannot be read back; make it an error here instead.
            data = adapter.dump_python(value, mode="json", warnings="error")
        except PydanticSerializationError as exc:
            raise ValueError(f"cannot serialize {describe_value(value)}: {exc}") from None
        if wants_msgpack(literal_type):
            check_json_like(data, type_name(python_type))  # names a field msgpack cannot hold
            return msgpack_literal(data)  # what flytekit 1.16 writes, and so do we
        struct = dict_to_struct(data)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(generic=struct))

    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Any:
        """An instance validated from the Struct (ours) or msgpack Binary (flytekit's)."""
        import pydantic  # noqa: PLC0415 - _adapter imported it

        data = read_json_like(literal)
        adapter, _ = _adapter(python_type)
        try:
            return adapter.validate_python(data)
        except pydantic.ValidationError as exc:
            raise ValueError(f"expected {type_name(python_type)}: {exc}") from None
