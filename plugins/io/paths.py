"""The on-storage layout of an attempt.

The twin of Go's ``ioutils/paths.go``, ``raw_output_path.go`` and
``precomputed_shardselector.go``.

An execution's files::

    <execution prefix>/task.pb                      the TaskTemplate
    <execution prefix>/inputs.pb                    the inputs (LiteralMap)
    <output prefix>/outputs.pb                      the outputs (LiteralMap)
    <output prefix>/error.pb                        an ErrorDocument
    <output prefix>/deck.html, futures.pb
    <raw base>/<2-char shard>/<generated name>/     raw data of one attempt
    <raw prefix>/_flytecheckpoints                  that attempt's checkpoints

The raw prefix is unique per attempt and spread over 36 x 36 two-character
shards, chosen by an FNV-32a hash of the generated name, as Flyte does.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from flyteidl.core import identifier_pb2

from plugins.core.execution_id import TaskExecutionID
from plugins.io.datastore import join_reference
from plugins.io.interfaces import DataReference, RawOutputPaths

__all__ = [
    "CHECKPOINT_PREFIX",
    "DECK_SUFFIX",
    "ERRORS_SUFFIX",
    "FUTURES_SUFFIX",
    "INDEX_LOOKUP_SUFFIX",
    "INPUTS_SUFFIX",
    "OUTPUTS_SUFFIX",
    "TASK_TEMPLATE_SUFFIX",
    "PrecomputedRawOutputPaths",
    "PrecomputedShardSelector",
    "RemoteFileOutputPaths",
    "ShardSelector",
    "SimpleInputFilePaths",
    "attempt_raw_output_prefix",
    "base36_shard_selector",
    "construct_checkpoint_path",
    "fnv32a",
    "generate_alphabet",
    "generate_arabic_numerals",
    "get_index_lookup_path",
    "get_task_template_path",
    "new_deterministic_unique_raw_output_path",
    "new_raw_output_paths",
    "new_sharded_deterministic_raw_output_path",
    "new_sharded_raw_output_path",
    "new_task_id_raw_output_path",
    "previous_checkpoint_path",
]

INPUTS_SUFFIX = "inputs.pb"
TASK_TEMPLATE_SUFFIX = "task.pb"
FUTURES_SUFFIX = "futures.pb"
OUTPUTS_SUFFIX = "outputs.pb"
DECK_SUFFIX = "deck.html"
ERRORS_SUFFIX = "error.pb"
INDEX_LOOKUP_SUFFIX = "indexlookup.pb"
CHECKPOINT_PREFIX = "_flytecheckpoints"


def construct_checkpoint_path(raw_output_prefix: DataReference) -> DataReference:
    """``<raw prefix>/_flytecheckpoints``; an empty prefix means no checkpoints (``""``)."""
    if not raw_output_prefix:
        return ""
    return join_reference(raw_output_prefix, CHECKPOINT_PREFIX)


def get_task_template_path(base: DataReference) -> DataReference:
    """``<base>/task.pb``."""
    return join_reference(base, TASK_TEMPLATE_SUFFIX)


def get_index_lookup_path(prefix: DataReference) -> DataReference:
    """``<prefix>/indexlookup.pb``."""
    return join_reference(prefix, INDEX_LOOKUP_SUFFIX)


# -- sharding ----------------------------------------------------------------------------------


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash, as Go's ``hash/fnv.New32a``."""
    h = 0x811C9DC5
    for byte in data:  # one statement a byte: this runs for every attempt's context
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def generate_alphabet(chars: list[str]) -> list[str]:
    """Append ``a``..``z`` to ``chars`` and return it."""
    chars.extend(string.ascii_lowercase)
    return chars


def generate_arabic_numerals(chars: list[str]) -> list[str]:
    """Append ``0``..``9`` to ``chars`` and return it."""
    chars.extend(string.digits)
    return chars


@runtime_checkable
class ShardSelector(Protocol):
    """Chooses a shard prefix for a key."""

    def get_shard_prefix(self, key: bytes) -> str:
        """The shard for ``key``; deterministic."""
        ...


class PrecomputedShardSelector:
    """Picks one of a fixed list of shards by FNV-32a hash.

    Args:
        shards: The shard prefixes; at least one.
    """

    def __init__(self, shards: Sequence[str]) -> None:
        if not shards:
            raise ValueError("a shard selector needs at least one shard")
        self._shards = tuple(shards)

    @property
    def shards(self) -> tuple[str, ...]:
        """The shard prefixes."""
        return self._shards

    def get_shard_prefix(self, key: bytes) -> str:
        """The shard for ``key``."""
        return self._shards[fnv32a(key) % len(self._shards)]


def base36_shard_selector() -> PrecomputedShardSelector:
    """The 1296 two-character shards ``aa``, ``ab``, ..., ``99`` over ``[a-z0-9]``."""
    chars = generate_arabic_numerals(generate_alphabet([]))
    return PrecomputedShardSelector([a + b for a in chars for b in chars])


_BASE36 = base36_shard_selector()


# -- raw output paths --------------------------------------------------------------------------


@dataclass(frozen=True)
class PrecomputedRawOutputPaths:
    """A raw output prefix computed up front."""

    path: DataReference

    def get_raw_output_prefix(self) -> DataReference:
        """The prefix."""
        return self.path


def new_raw_output_paths(raw_output_prefix: DataReference) -> PrecomputedRawOutputPaths:
    """Use ``raw_output_prefix`` as it is."""
    return PrecomputedRawOutputPaths(raw_output_prefix)


def _sha1(value: str) -> str:
    return hashlib.sha1(value.encode(), usedforsecurity=False).hexdigest()


def new_sharded_raw_output_path(
    sharder: ShardSelector, base: DataReference, unique_id: str
) -> PrecomputedRawOutputPaths:
    """``<base>/<shard(unique_id)>/<unique_id>``."""
    shard = sharder.get_shard_prefix(unique_id.encode())
    return PrecomputedRawOutputPaths(join_reference(base, shard, unique_id))


def new_sharded_deterministic_raw_output_path(
    sharder: ShardSelector, base: DataReference, output_metadata_prefix: DataReference
) -> PrecomputedRawOutputPaths:
    """``<base>/<shard(prefix)>/<sha1(prefix)>``: the same metadata prefix gives the same path."""
    shard = sharder.get_shard_prefix(output_metadata_prefix.encode())
    return PrecomputedRawOutputPaths(join_reference(base, shard, _sha1(output_metadata_prefix)))


def new_deterministic_unique_raw_output_path(
    base: DataReference, output_metadata_prefix: DataReference
) -> PrecomputedRawOutputPaths:
    """``<base>/<sha1(prefix)>``, unsharded."""
    return PrecomputedRawOutputPaths(join_reference(base, _sha1(output_metadata_prefix)))


def new_task_id_raw_output_path(
    base: DataReference, task_id: identifier_pb2.TaskExecutionIdentifier
) -> PrecomputedRawOutputPaths:
    """``<base>/<project>/<domain>/<execution>/<node>/<attempt>/<task name>``."""
    ex = task_id.node_execution_id.execution_id
    return PrecomputedRawOutputPaths(
        join_reference(
            base,
            ex.project,
            ex.domain,
            ex.name,
            task_id.node_execution_id.node_id,
            str(task_id.retry_attempt),
            task_id.task_id.name,
        )
    )


def attempt_raw_output_prefix(
    base: DataReference, execution_id: TaskExecutionID, sharder: ShardSelector = _BASE36
) -> PrecomputedRawOutputPaths:
    """The attempt's unique raw prefix: ``<base>/<2-char shard>/<generated name>``."""
    return new_sharded_raw_output_path(sharder, base, execution_id.generated_name)


def previous_checkpoint_path(
    base: DataReference,
    execution_id: TaskExecutionID,
    first_attempt_checkpoint: DataReference = "",
    sharder: ShardSelector = _BASE36,
) -> DataReference:
    """The checkpoint prefix of the attempt before this one.

    Attempt 0 has none unless ``first_attempt_checkpoint`` is given (Flyte's
    recovery from an earlier execution's checkpoint).
    """
    if execution_id.retry_attempt == 0:
        return first_attempt_checkpoint
    previous = execution_id.id.__class__()
    previous.CopyFrom(execution_id.id)
    previous.retry_attempt = execution_id.retry_attempt - 1
    prev_id = TaskExecutionID(previous, execution_id.max_length)
    raw = attempt_raw_output_prefix(base, prev_id, sharder).get_raw_output_prefix()
    return construct_checkpoint_path(raw)


# -- file paths --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimpleInputFilePaths:
    """Inputs under a prefix: ``<prefix>/inputs.pb``."""

    prefix: DataReference

    def get_input_prefix_path(self) -> DataReference:
        """The prefix."""
        return self.prefix

    def get_input_path(self) -> DataReference:
        """``<prefix>/inputs.pb``."""
        return join_reference(self.prefix, INPUTS_SUFFIX)


@dataclass(frozen=True)
class RemoteFileOutputPaths:
    """Output, error, deck, futures and checkpoint paths of an attempt.

    Attributes:
        output_prefix: The directory for ``outputs.pb``, ``error.pb`` and ``deck.html``.
        raw_output_paths: The attempt's raw prefix; ``None`` for read-only use.
        previous_checkpoint: The previous attempt's checkpoint prefix, or ``""``.
    """

    output_prefix: DataReference
    raw_output_paths: RawOutputPaths | None = None
    previous_checkpoint: DataReference = ""

    def get_output_prefix_path(self) -> DataReference:
        """The output directory."""
        return self.output_prefix

    def get_output_path(self) -> DataReference:
        """``<output prefix>/outputs.pb``."""
        return join_reference(self.output_prefix, OUTPUTS_SUFFIX)

    def get_deck_path(self) -> DataReference:
        """``<output prefix>/deck.html``."""
        return join_reference(self.output_prefix, DECK_SUFFIX)

    def get_error_path(self) -> DataReference:
        """``<output prefix>/error.pb``."""
        return join_reference(self.output_prefix, ERRORS_SUFFIX)

    def get_futures_path(self) -> DataReference:
        """``<output prefix>/futures.pb`` (dynamic tasks)."""
        return join_reference(self.output_prefix, FUTURES_SUFFIX)

    def get_raw_output_prefix(self) -> DataReference:
        """The attempt's raw prefix, or ``""`` when there is none."""
        if self.raw_output_paths is None:
            return ""
        return self.raw_output_paths.get_raw_output_prefix()

    def get_checkpoint_prefix(self) -> DataReference:
        """``<raw prefix>/_flytecheckpoints``, or ``""`` without a raw prefix."""
        return construct_checkpoint_path(self.get_raw_output_prefix())

    def get_previous_checkpoints_prefix(self) -> DataReference:
        """The previous attempt's checkpoint prefix, or ``""``."""
        return self.previous_checkpoint
