"""The type engine: converts Python values to flyteidl literals and back (flytekit's TypeEngine).

A :class:`TypeTransformer` knows one family of Python types. :class:`TypeEngine` keeps
the registered transformers and dispatches each Python type to the newest one that
matches it, so a plugin author can add a type, or replace a built-in mapping, with
:meth:`TypeEngine.register`.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from flyteidl.core import literals_pb2, types_pb2

from plugins.io import DataStore

__all__ = [
    "TransformContext",
    "TypeEngine",
    "TypeTransformer",
    "describe_value",
    "literal_kind",
    "mismatch",
    "strip_annotated",
    "type_name",
    "with_article",
    "with_context",
]

T = TypeVar("T")

_MAX_REPR = 80

_temp_lock = threading.Lock()
_temp_dir: str | None = None


def process_temp_dir() -> str:
    """A temporary directory shared by the whole process, removed when it exits.

    Local runs upload File/Directory values here and downloads land here, so nothing
    outlives the process that needed it.
    """
    global _temp_dir  # noqa: PLW0603 - one directory per process, created on first use
    with _temp_lock:
        if _temp_dir is None:
            path = tempfile.mkdtemp(prefix="flyte-celery-types-")
            atexit.register(shutil.rmtree, path, ignore_errors=True)
            _temp_dir = path
        return _temp_dir


@dataclass(frozen=True)
class TransformContext:
    """What conversions need beyond the value itself.

    Attributes:
        store: The storage that File/Directory values are uploaded to and read from.
        raw_output_prefix: The URL under which File/Directory values are uploaded; each
            upload gets a fresh random sub-folder, so uploads never overwrite each other.
    """

    store: DataStore
    raw_output_prefix: str

    @classmethod
    def local(cls) -> TransformContext:
        """A context for local runs: a process-wide temporary ``file://`` prefix."""
        return cls(store=DataStore(), raw_output_prefix=f"file://{process_temp_dir()}/raw")


def strip_annotated(python_type: Any) -> Any:
    """``Annotated[T, ...]`` becomes ``T`` (repeatedly); ``None`` becomes ``type(None)``."""
    while typing.get_origin(python_type) is typing.Annotated:
        python_type = typing.get_args(python_type)[0]
    if python_type is None:
        return type(None)
    return python_type


def type_name(python_type: Any) -> str:
    """A short, readable name of a Python type: ``int``, ``list[int]``, ``int | None``."""
    python_type = strip_annotated(python_type)
    if python_type is type(None):
        return "None"
    origin = typing.get_origin(python_type)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(type_name(arg) for arg in typing.get_args(python_type))
    if origin is not None:
        args = ", ".join(type_name(arg) for arg in typing.get_args(python_type))
        return f"{type_name(origin)}[{args}]" if args else type_name(origin)
    if isinstance(python_type, type):
        return python_type.__qualname__
    return repr(python_type).removeprefix("typing.")


def describe_value(value: Any) -> str:
    """A value for an error message: its type name and a shortened repr, ``str 'a'``."""
    text = repr(value)
    if len(text) > _MAX_REPR:
        text = text[: _MAX_REPR - 3] + "..."
    return f"{type(value).__qualname__} {text}"


def mismatch(expected: Any, value: Any) -> TypeError:
    """The error for a value of the wrong type: ``expected int, got str 'a'``.

    Args:
        expected: A Python type, or an already formatted description of what was expected.
        value: The offending value.
    """
    wanted = expected if isinstance(expected, str) else type_name(expected)
    return TypeError(f"expected {wanted}, got {describe_value(value)}")


def with_context(exc: Exception, context: str) -> Exception:
    """A copy of ``exc`` whose message starts with ``context`` (``input 'x': ...``).

    The copy is a plain builtin of the same family (TypeError, FileNotFoundError,
    ValueError, OSError), because library error types such as pydantic's cannot be
    rebuilt from a message; the original stays reachable as ``__cause__``.
    """
    message = f"{context}: {exc}"
    if isinstance(exc, TypeError):
        return TypeError(message)
    if isinstance(exc, FileNotFoundError):
        return FileNotFoundError(message)
    if isinstance(exc, OSError):
        return OSError(message)
    return ValueError(message)


def literal_kind(literal: literals_pb2.Literal) -> str:
    """What a literal holds, for error messages: ``an integer literal``, ``a map literal``."""
    kind = literal.WhichOneof("value")
    if kind == "scalar":
        kind = literal.scalar.WhichOneof("value")
        if kind == "primitive":
            kind = literal.scalar.primitive.WhichOneof("value")
    return with_article(f"{kind} literal") if kind else "an empty literal"


def with_article(noun: str) -> str:
    """``noun`` with ``a`` or ``an`` in front of it."""
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


CONVERSION_ERRORS = (TypeError, ValueError, OSError)
"""What a failed conversion raises; other exceptions are bugs and propagate untouched."""


class TypeTransformer(ABC, Generic[T]):
    """Converts one family of Python types to flyteidl literals and back.

    Subclass it and :meth:`TypeEngine.register` an instance to support a new type.
    Methods raise ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind,
    bad content) with a message saying what was expected and what was found.

    Args:
        name: A human-readable name of the transformer.
        python_type: The Python type it handles (for generic families, the base).
    """

    def __init__(self, name: str, python_type: type[T]) -> None:
        self._name = name
        self._python_type = python_type

    @property
    def name(self) -> str:
        """A human-readable name of the transformer."""
        return self._name

    @property
    def python_type(self) -> type[T]:
        """The Python type it handles (for generic families, the base)."""
        return self._python_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r})"

    def matches(self, python_type: Any) -> bool:
        """Whether this transformer handles ``python_type`` (already without Annotated).

        The default is the exact type; generic families (``list[T]``, Enum subclasses)
        override it.
        """
        return python_type is self._python_type

    @abstractmethod
    def get_literal_type(self, python_type: Any) -> types_pb2.LiteralType:
        """The flyteidl type of ``python_type``.

        Raises:
            TypeError: ``python_type`` (or a type inside it) is not supported.
        """

    @abstractmethod
    def to_literal(
        self,
        ctx: TransformContext,
        value: Any,
        python_type: Any,
        literal_type: types_pb2.LiteralType,
    ) -> literals_pb2.Literal:
        """Convert ``value``, declared as ``python_type``, to a literal of ``literal_type``.

        Raises:
            TypeError: The value has the wrong type.
            ValueError: The value cannot be represented.
        """

    @abstractmethod
    def to_python_value(
        self, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Any:
        """Convert ``literal`` to a value of ``python_type``.

        Raises:
            TypeError: The literal holds a different kind of value.
            ValueError: Its content is not a valid ``python_type``.
        """

    def guess_python_type(self, literal_type: types_pb2.LiteralType) -> Any:
        """The Python type that this transformer would map to ``literal_type``.

        Raises:
            ValueError: This transformer does not produce ``literal_type``.
        """
        raise ValueError(f"{self._name} cannot guess a type for {literal_type}")


class TypeEngine:
    """The registry of transformers and the entry points of conversion."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    # Copy-on-write, so lookups never need the lock.
    _transformers: ClassVar[tuple[TypeTransformer[Any], ...]] = ()

    @classmethod
    def register(cls, transformer: TypeTransformer[Any]) -> None:
        """Add a transformer; it takes precedence over every earlier one that matches."""
        if not isinstance(transformer, TypeTransformer):
            raise TypeError(f"expected a TypeTransformer, got {describe_value(transformer)}")
        with cls._lock:
            cls._transformers = (*cls._transformers, transformer)

    @classmethod
    def get_transformer(cls, python_type: Any) -> TypeTransformer[Any]:
        """The transformer that handles ``python_type``.

        Raises:
            TypeError: No transformer handles it.
        """
        stripped = strip_annotated(python_type)
        candidate: TypeTransformer[Any]
        for candidate in reversed(cls._transformers):
            if candidate.matches(stripped):
                return candidate
        raise TypeError(
            f"unsupported type {python_type!r}: no type transformer handles it; supported "
            "are int, float, str, bool, datetime, timedelta, None, Optional/Union, list[T], "
            "dict[str, T], dict, Enum, dataclasses, pydantic models, File and Directory"
        )

    @classmethod
    def to_literal_type(cls, python_type: Any) -> types_pb2.LiteralType:
        """The flyteidl type of ``python_type``.

        Raises:
            TypeError: The type is not supported.
        """
        stripped = strip_annotated(python_type)
        return cls.get_transformer(stripped).get_literal_type(stripped)

    @classmethod
    def to_literal(
        cls, ctx: TransformContext, value: Any, python_type: Any
    ) -> literals_pb2.Literal:
        """Convert ``value``, declared as ``python_type``, to a literal.

        Raises:
            TypeError: The type is not supported, or the value does not have it.
            ValueError: The value cannot be represented.
            FileNotFoundError: A File/Directory value names a missing local path.
        """
        stripped = strip_annotated(python_type)
        transformer = cls.get_transformer(stripped)
        literal_type = transformer.get_literal_type(stripped)
        return transformer.to_literal(ctx, value, stripped, literal_type)

    @classmethod
    def to_python_value(
        cls, ctx: TransformContext, literal: literals_pb2.Literal, python_type: Any
    ) -> Any:
        """Convert ``literal`` to a value of ``python_type``.

        Raises:
            TypeError: The type is not supported, or the literal holds another kind.
            ValueError: The literal's content is not valid for the type.
        """
        stripped = strip_annotated(python_type)
        return cls.get_transformer(stripped).to_python_value(ctx, literal, stripped)

    @classmethod
    def guess_python_type(cls, literal_type: types_pb2.LiteralType) -> Any:
        """The Python type that maps to ``literal_type``, best effort.

        Dataclasses and models come back as ``dict`` and enums as a new ``Enum`` class,
        because a flyteidl type does not carry the original class.

        Raises:
            TypeError: No transformer produces ``literal_type``.
        """
        for transformer in reversed(cls._transformers):
            try:
                return transformer.guess_python_type(literal_type)
            except ValueError:
                continue
        raise TypeError(f"cannot guess a Python type for literal type {literal_type}")

    @classmethod
    def literal_map_to_kwargs(
        cls,
        ctx: TransformContext,
        lm: literals_pb2.LiteralMap,
        python_types: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Convert every literal of ``lm`` to its declared Python type.

        Raises:
            ValueError: A declared input is missing, or ``lm`` has an undeclared one.
            TypeError: A literal does not fit; the message names the input.
        """
        _check_names(lm.literals.keys(), python_types)
        result: dict[str, Any] = {}
        for name, python_type in python_types.items():
            try:
                result[name] = cls.to_python_value(ctx, lm.literals[name], python_type)
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"input {name!r}") from exc
        return result

    @classmethod
    def dict_to_literal_map(
        cls,
        ctx: TransformContext,
        values: Mapping[str, Any],
        python_types: Mapping[str, Any],
    ) -> literals_pb2.LiteralMap:
        """Convert named Python values to a literal map.

        Raises:
            ValueError: A declared value is missing, or ``values`` has an undeclared one.
            TypeError: A value does not fit its type; the message names the input:
                ``input 'x': expected int, got str 'a'``.
        """
        _check_names(values.keys(), python_types)
        result = literals_pb2.LiteralMap()
        for name, python_type in python_types.items():
            try:
                literal = cls.to_literal(ctx, values[name], python_type)
            except CONVERSION_ERRORS as exc:
                raise with_context(exc, f"input {name!r}") from exc
            result.literals[name].CopyFrom(literal)
        return result


def _check_names(given: typing.Iterable[str], declared: Mapping[str, Any]) -> None:
    given_set = set(given)
    missing = sorted(set(declared) - given_set)
    unknown = sorted(given_set - set(declared))
    problems = []
    if missing:
        problems.append("missing input(s) " + ", ".join(repr(n) for n in missing))
    if unknown:
        problems.append("unknown input(s) " + ", ".join(repr(n) for n in unknown))
    if problems:
        raise ValueError(f"{'; '.join(problems)}; declared are {sorted(declared)}")
