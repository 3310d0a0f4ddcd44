"""The result cache (Flyte's catalog): outputs of earlier executions, reused by key.

A task whose template has ``metadata.discoverable`` set is cached, whatever its
task type. The key covers the project, the domain, the task's name, its
``discovery_version``, a hash of its interface and a hash of the inputs'
deterministic serialization without ``cache_ignore_input_vars`` (a literal that
carries a ``hash``, such as an uploaded File, counts by that hash, so identical
content is one key even though each upload has its own URI).

An entry is a small Redis string pointing at an ``outputs.pb`` that the cache
owns under ``<storage>/cache/``: it outlives the execution that produced it. A
lookup whose file has gone is a miss and drops the entry, rather than failing
later the way Flyte's local cache does (flyte#4672).

``cache_serialize`` uses reservations, as DataCatalog does: the first execution
of a key takes it and runs; the others wait in WAITING_FOR_CACHE and re-check.
The scheduler renews the reservations of live owners every heartbeat; one that
misses three heartbeats expires and the next waiter takes it over.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flyteidl.core import literals_pb2, tasks_pb2
from redis import Redis

from plugins.idl import datetime_to_json, utc
from plugins.io import DataStore, join_reference
from scheduler.scripts import decode, load_script

__all__ = ["CacheKey", "CacheStatus", "Reservation", "ResultCache", "cache_key"]


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
    return literal


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


@dataclass(frozen=True)
class Reservation:
    """Who holds a ``cache_serialize`` reservation, and until when."""

    owner: str
    expires_at: datetime


def _ms(value: datetime) -> int:
    return int(utc(value).timestamp() * 1000)


class ResultCache:
    """Cache entries and reservations in Redis; cached outputs in storage.

    Args:
        redis_client: The deployment's Redis.
        store: Blob storage.
        storage: The storage base URL; entries' files go under ``<storage>/cache``.
        key_prefix: Prefix (and hash tag) of the Redis keys.
        heartbeat: The reservation heartbeat; a reservation expires after three.
        ttl: How long an entry lives.
    """

    def __init__(
        self,
        redis_client: Redis,
        store: DataStore,
        storage: str,
        *,
        key_prefix: str = "flyte-celery",
        heartbeat: timedelta = timedelta(seconds=5),
        ttl: timedelta = timedelta(days=30),
    ) -> None:
        self._redis = redis_client
        self._store = store
        self._root = join_reference(storage, "cache")
        self._p = f"{{{key_prefix}}}"
        self.heartbeat = heartbeat
        self.expiry = heartbeat * 3
        self._expiry_ms = int(self.expiry.total_seconds() * 1000)
        self._ttl_ms = int(ttl.total_seconds() * 1000)
        self._reserve = load_script(redis_client, "reserve")
        self._unreserve = load_script(redis_client, "unreserve")

    def _entry_key(self, digest: str) -> str:
        return f"{self._p}:cache:entry:{digest}"

    @property
    def _reservations_key(self) -> str:
        return f"{self._p}:cache:reservations"

    # -- entries -------------------------------------------------------------------------------

    def lookup(self, digest: str) -> literals_pb2.LiteralMap | None:
        """The cached outputs for ``digest``, or ``None`` on a miss.

        An entry whose outputs file is gone is dropped and counts as a miss.

        Raises:
            StorageError: Storage failed for another reason (a lookup failure).
        """
        raw = self._redis.get(self._entry_key(digest))
        if raw is None:
            return None
        entry = json.loads(decode(raw))
        try:
            return self._store.read_protobuf(entry["outputs"], literals_pb2.LiteralMap)
        except FileNotFoundError:
            self._redis.delete(self._entry_key(digest))
            return None

    def entry(self, digest: str) -> dict[str, str] | None:
        """The entry's metadata: the outputs file, the execution that wrote it, and when."""
        raw = self._redis.get(self._entry_key(digest))
        return None if raw is None else dict(json.loads(decode(raw)))

    def put(
        self, digest: str, outputs: literals_pb2.LiteralMap, execution_id: str, now: datetime
    ) -> str:
        """Commit ``outputs`` under the cache's own prefix and point the entry at them.

        A later put (``overwrite_cache``) replaces the entry.

        Returns:
            The outputs file's URL.

        Raises:
            StorageError: The file could not be written.
        """
        uri = join_reference(self._root, digest[:2], digest, uuid.uuid4().hex, "outputs.pb")
        self._store.write_protobuf(uri, outputs)
        doc = {"outputs": uri, "execution": execution_id, "created_at": datetime_to_json(now)}
        self._redis.set(self._entry_key(digest), json.dumps(doc), px=self._ttl_ms)
        return uri

    def evict(self, digest: str) -> bool:
        """Drop the entry for ``digest``; whether there was one."""
        return bool(self._redis.delete(self._entry_key(digest)))

    # -- reservations --------------------------------------------------------------------------

    def reserve(self, digest: str, owner: str, now: datetime) -> str:
        """Take the reservation for ``digest`` unless a live owner holds it.

        Returns:
            The owner afterwards: ``owner`` itself when it holds the reservation.
        """
        args: list[str | int] = [digest, owner, _ms(now), self._expiry_ms, "take"]
        return decode(self._reserve(keys=[self._reservations_key], args=args))

    def renew(self, digest: str, owner: str, now: datetime) -> bool:
        """Extend ``owner``'s reservation (a heartbeat); ``False`` if it no longer holds it."""
        args: list[str | int] = [digest, owner, _ms(now), self._expiry_ms, "renew"]
        return decode(self._reserve(keys=[self._reservations_key], args=args)) == owner

    def release(self, digest: str, owner: str) -> bool:
        """Give up ``owner``'s reservation; ``False`` if it held none."""
        return bool(self._unreserve(keys=[self._reservations_key], args=[digest, owner]))

    def reservations(self, digests: Iterable[str] | None = None) -> dict[str, Reservation]:
        """Current reservations (expired ones included until taken over or released)."""
        raw = self._redis.hgetall(self._reservations_key)
        wanted = None if digests is None else set(digests)
        result: dict[str, Reservation] = {}
        for field, value in raw.items():
            digest = decode(field)
            if wanted is not None and digest not in wanted:
                continue
            owner, _, expires = decode(value).rpartition("|")
            result[digest] = Reservation(owner, datetime.fromtimestamp(int(expires) / 1000, tz=UTC))
        return result
