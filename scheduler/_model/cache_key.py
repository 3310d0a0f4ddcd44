"""The result cache's pure part: what the cache did (:class:`CacheStatus`) and the key.

A task whose template has ``metadata.discoverable`` set is cached, whatever its
task type. The key covers the project, the domain, the task's name, its
``discovery_version``, a hash of its interface and a hash of the inputs'
deterministic serialization without ``cache_ignore_input_vars`` (a literal that
carries a ``hash``, such as an uploaded File, counts by that hash, so identical
content is one key even though each upload has its own URI; a msgpack value counts
with its dict keys sorted, so equal dicts are one key whatever their order).

Entries and reservations live in Redis: see :mod:`scheduler._backend.cache`.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any

import msgpack
from flyteidl.core import literals_pb2, tasks_pb2

__all__ = ["CacheKey", "CacheStatus", "cache_key"]


class CacheStatus(enum.StrEnum):
    """What the cache did for an execution (Flyte's ``CatalogCacheStatus``)."""

    MISS = "MISS"
    """No entry: the task runs (with ``overwrite_cache``, the lookup is skipped)."""
    HIT = "HIT"
    """An entry existed: the execution ended SUCCESS without calling the plugin."""
    POPULATED = "POPULATED"
    """The task ran and its outputs were written to the cache."""
    LOOKUP_FAILURE = "LOOKUP_FAILURE"
    """The lookup failed (e.g. storage unreachable); the task runs."""
    PUT_FAILURE = "PUT_FAILURE"
    """The task succeeded but writing the entry failed; the execution still succeeds."""


def _hashable(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    # A literal with an explicit hash counts by it alone (flytekit's HashMethod rule);
    # collections and maps are rebuilt so nested hashes count too.
    if literal.hash:
        return literals_pb2.Literal(hash=literal.hash)
    which = literal.WhichOneof("value")
    if which == "collection":
        return literals_pb2.Literal(
            collection=literals_pb2.LiteralCollection(
                literals=[_hashable(x) for x in literal.collection.literals]
            )
        )
    if which == "map":
        return literals_pb2.Literal(
            map=literals_pb2.LiteralMap(
                literals={k: _hashable(v) for k, v in literal.map.literals.items()}
            )
        )
    if which == "scalar" and literal.scalar.binary.tag == "msgpack":
        return _canonical_msgpack(literal)
    return literal


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value, key=repr)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _canonical_msgpack(literal: literals_pb2.Literal) -> literals_pb2.Literal:
    # An untyped dict's msgpack bytes follow its insertion order; equal dicts must be one
    # key, so the hash sees the keys sorted. (The stored value is left as it was.)
    try:
        data = msgpack.unpackb(literal.scalar.binary.value, raw=False, strict_map_key=False)
        packed = msgpack.packb(_sorted(data), use_bin_type=True)
    except (ValueError, TypeError, OverflowError, msgpack.ExtraData, msgpack.FormatError):
        return literal  # not decodable: it counts by its bytes
    binary = literals_pb2.Binary(value=packed, tag="msgpack")
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(binary=binary))


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))  # length-prefixed: no ambiguous joins
        h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """The parts of a result-cache key.

    Attributes:
        project: The execution's project.
        domain: The execution's domain.
        task_name: The template's ``id.name`` (its task type when unnamed).
        version: The template's ``metadata.discovery_version``.
        signature: SHA-256 of the template's interface.
        inputs: SHA-256 of the inputs that count.
    """

    project: str
    domain: str
    task_name: str
    version: str
    signature: str
    inputs: str

    @property
    def digest(self) -> str:
        """The key as one SHA-256 hex string."""
        return _digest(
            self.project, self.domain, self.task_name, self.version, self.signature, self.inputs
        )


def cache_key(
    template: tasks_pb2.TaskTemplate,
    inputs: literals_pb2.LiteralMap,
    project: str,
    domain: str,
) -> CacheKey | None:
    """The cache key of running ``template`` on ``inputs``; ``None`` when it is not cached."""
    metadata = template.metadata
    if not metadata.discoverable:
        return None
    ignored = set(metadata.cache_ignore_input_vars)
    counted = literals_pb2.LiteralMap()
    for name, literal in inputs.literals.items():
        if name not in ignored:
            counted.literals[name].CopyFrom(_hashable(literal))
    return CacheKey(
        project=project,
        domain=domain,
        task_name=template.id.name or template.type,
        version=metadata.discovery_version,
        signature=_digest(template.interface.SerializeToString(deterministic=True)),
        inputs=_digest(counted.SerializeToString(deterministic=True)),
    )
