"""TaskExecutionID: the identity of one attempt and its generated name (Go's ``TaskExecutionID``).

The generated name is the key of everything per attempt: the quota token, the
idempotency key of a remote ``create``, the raw output prefix. It is
deterministic, injective in (project, domain, execution, node, attempt), DNS-label
safe and at most ``max_length`` characters long.

Flyte joins the parts with ``-``, so project ``ml-dev`` with domain ``team`` and
project ``ml`` with domain ``dev-team`` share one name, one quota token and one
remote job. Here a part that contains the separator makes the name hashed over an
unambiguous encoding of the parts; names of parts without ``-`` are Flyte's.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field

from flyteidl.core import identifier_pb2

__all__ = [
    "DEFAULT_NODE_ID",
    "GENERATED_NAME_MAX_LENGTH",
    "MIN_GENERATED_NAME_LENGTH",
    "TaskExecutionID",
    "fixed_length_unique_id",
]

GENERATED_NAME_MAX_LENGTH = 50
"""Flyte's ``IDMaxLength`` for generated names."""

MIN_GENERATED_NAME_LENGTH = 8
"""The shortest maximum a plugin may ask for (Go's ``minGeneratedNameLength``)."""

DEFAULT_NODE_ID = "n0"
"""A standalone task execution is a one-node workflow; this is that node's id."""

_DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_UNSAFE = re.compile(r"[^a-z0-9-]+")
_HASH_CHARS = 16  # 80 bits of SHA-256: collisions are not a practical concern


def _digest(value: str) -> str:
    raw = hashlib.sha256(value.encode()).digest()
    return base64.b32encode(raw).decode().lower().rstrip("=")


def fixed_length_unique_id(value: str, max_length: int) -> str:
    """Map ``value`` to a DNS-label-safe id of at most ``max_length`` characters.

    A value that is already safe and short enough is returned unchanged. Any other
    value becomes a readable, sanitised prefix plus a hash of the whole value, so
    distinct inputs keep distinct ids (Flyte's ``FixedLengthUniqueID``, which hashes
    only long values and keeps unsafe characters).

    Raises:
        ValueError: ``max_length`` is below :data:`MIN_GENERATED_NAME_LENGTH`.
    """
    if max_length < MIN_GENERATED_NAME_LENGTH:
        raise ValueError(
            f"max_length must be at least {MIN_GENERATED_NAME_LENGTH}, got {max_length}"
        )
    if len(value) <= max_length and _DNS_LABEL.fullmatch(value):
        return value
    return _hashed_id(value, value, max_length)


def _hashed_id(readable_source: str, hashed_source: str, max_length: int) -> str:
    digest = _digest(hashed_source)
    readable = _UNSAFE.sub("-", readable_source.lower()).strip("-")
    room = max_length - _HASH_CHARS - 1
    if room < 4 or not readable:
        return ("f" + digest)[:max_length]
    if not readable[0].isalpha():
        readable = "f" + readable
    return f"{readable[:room].rstrip('-')}-{digest[:_HASH_CHARS]}"


@dataclass(frozen=True, eq=False)
class TaskExecutionID:
    """The identity of one attempt of one task execution.

    Attributes:
        id: The flyteidl ``TaskExecutionIdentifier`` (task, node execution, retry attempt).
        max_length: The longest generated name allowed.
    """

    id: identifier_pb2.TaskExecutionIdentifier
    max_length: int = GENERATED_NAME_MAX_LENGTH
    _generated_name: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_generated_name", self._unique_name())

    @classmethod
    def create(
        cls,
        *,
        project: str,
        domain: str,
        name: str,
        attempt: int = 0,
        task_name: str = "",
        task_version: str = "",
        node_id: str = DEFAULT_NODE_ID,
        max_length: int = GENERATED_NAME_MAX_LENGTH,
    ) -> TaskExecutionID:
        """Build the id of attempt ``attempt`` of execution ``project/domain/name``."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        pb = identifier_pb2.TaskExecutionIdentifier(
            task_id=identifier_pb2.Identifier(
                resource_type=identifier_pb2.TASK,
                project=project,
                domain=domain,
                name=task_name,
                version=task_version,
            ),
            node_execution_id=identifier_pb2.NodeExecutionIdentifier(
                node_id=node_id,
                execution_id=identifier_pb2.WorkflowExecutionIdentifier(
                    project=project, domain=domain, name=name
                ),
            ),
            retry_attempt=attempt,
        )
        return cls(pb, max_length)

    def _unique_name(self) -> str:
        ex = self.id.node_execution_id.execution_id
        # Project and domain are included because execution names are only unique
        # within them, and the generated name is a global idempotency key.
        parts = [ex.project, ex.domain, ex.name, self.unique_node_id, str(self.retry_attempt)]
        joined = "-".join(p for p in parts if p)
        if not any("-" in p for p in parts):
            return fixed_length_unique_id(joined, self.max_length)
        # The join is ambiguous: hash the parts length-prefixed, so no two tuples meet, and
        # keep the join as a readable prefix. A name of this form always holds the hash.
        encoded = "".join(f"{len(p)}:{p}" for p in parts)
        return _hashed_id(joined, encoded, self.max_length)

    @property
    def generated_name(self) -> str:
        """The unique, bounded, DNS-safe name of this attempt."""
        return self._generated_name

    def generated_name_with(self, min_length: int, max_length: int) -> str:
        """The generated name, padded with ``0`` to ``min_length`` or hashed down to ``max_length``.

        Raises:
            ValueError: The bounds are inconsistent or below the minimum length.
        """
        if min_length > max_length:
            raise ValueError(f"min_length {min_length} exceeds max_length {max_length}")
        name = self._generated_name
        if len(name) < min_length:
            return name + "0" * (min_length - len(name))
        if len(name) > max_length:
            return fixed_length_unique_id(name, max_length)
        return name

    @property
    def unique_node_id(self) -> str:
        """The node id the attempt belongs to."""
        return self.id.node_execution_id.node_id

    @property
    def retry_attempt(self) -> int:
        """The attempt number, starting at 0."""
        return self.id.retry_attempt

    @property
    def project(self) -> str:
        """The execution's project."""
        return self.id.node_execution_id.execution_id.project

    @property
    def domain(self) -> str:
        """The execution's domain."""
        return self.id.node_execution_id.execution_id.domain

    @property
    def execution_name(self) -> str:
        """The execution's name within its project and domain."""
        return self.id.node_execution_id.execution_id.name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TaskExecutionID):
            return NotImplemented
        return self.id == other.id and self.max_length == other.max_length

    def __hash__(self) -> int:
        return hash(self._generated_name)

    def __str__(self) -> str:
        return self._generated_name
