"""The type engine: Python values <-> flyteidl literals, as flytekit maps them.

Supported: int, float, str, bool, datetime, timedelta, None, ``Optional``/``Union``,
``list[T]``, ``dict[str, T]``, untyped ``dict`` (JSON, as a Struct), ``Enum`` with str
values, dataclasses, pydantic models, :class:`File` and :class:`Directory`;
``Annotated[T, ...]`` is treated as ``T``. Plugin authors add types with
:meth:`TypeEngine.register`.
"""

from __future__ import annotations

from plugins.tasks.types.containers import DictTransformer, EnumTransformer, ListTransformer
from plugins.tasks.types.engine import TransformContext, TypeEngine, TypeTransformer
from plugins.tasks.types.files import Directory, DirectoryTransformer, File, FileTransformer
from plugins.tasks.types.simple import simple_transformers
from plugins.tasks.types.structured import StructuredTransformer
from plugins.tasks.types.unions import UnionTransformer

__all__ = ["Directory", "File", "TransformContext", "TypeEngine", "TypeTransformer"]


def _register_builtins() -> None:
    for transformer in (
        *simple_transformers(),
        ListTransformer(),
        DictTransformer(),
        UnionTransformer(),
        EnumTransformer(),
        StructuredTransformer(),
        FileTransformer(),
        DirectoryTransformer(),
    ):
        TypeEngine.register(transformer)


_register_builtins()
