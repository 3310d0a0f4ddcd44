"""The result cache's storage (Flyte's catalog): entries and reservations in Redis.

Outputs of earlier executions are reused by key (see
:func:`scheduler._model.cache_key.cache_key`). An entry is a small Redis string
pointing at an ``outputs.pb`` that the cache owns under ``<storage>/cache/``: it
outlives the execution that produced it. A lookup whose file has gone is a miss
and drops the entry, rather than failing later the way Flyte's local cache does
(flyte#4672).

``cache_serialize`` uses reservations, as DataCatalog does: the first execution
of a key takes it and runs; the others wait in WAITING_FOR_CACHE and re-check.
The scheduler renews the reservations of live owners every heartbeat; one that
misses three heartbeats expires and the next waiter takes it over.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flyteidl.core import literals_pb2
from redis import Redis

from plugins.idl import datetime_to_json, utc
from plugins.io import DataStore, join_reference
from scheduler._backend.keys import Keys
from scheduler._backend.scripts import decode, load_script

__all__ = ["Reservation", "ResultCache"]


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
        self._keys = Keys(key_prefix)
        self.heartbeat = heartbeat
        self.expiry = heartbeat * 3
        self._expiry_ms = int(self.expiry.total_seconds() * 1000)
        self._ttl_ms = int(ttl.total_seconds() * 1000)
        self._reserve = load_script(redis_client, "reserve")
        self._unreserve = load_script(redis_client, "unreserve")

    # -- entries -------------------------------------------------------------------------------

    def lookup(self, digest: str) -> literals_pb2.LiteralMap | None:
        """The cached outputs for ``digest``, or ``None`` on a miss.

        An entry whose outputs file is gone is dropped and counts as a miss.

        Raises:
            StorageError: Storage failed for another reason (a lookup failure).
        """
        raw = self._redis.get(self._keys.cache_entry(digest))
        if raw is None:
            return None
        entry = json.loads(decode(raw))
        try:
            return self._store.read_protobuf(entry["outputs"], literals_pb2.LiteralMap)
        except FileNotFoundError:
            self._redis.delete(self._keys.cache_entry(digest))
            return None

    def entry(self, digest: str) -> dict[str, str] | None:
        """The entry's metadata: the outputs file, the execution that wrote it, and when."""
        raw = self._redis.get(self._keys.cache_entry(digest))
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
        self._redis.set(self._keys.cache_entry(digest), json.dumps(doc), px=self._ttl_ms)
        return uri

    def evict(self, digest: str) -> bool:
        """Drop the entry for ``digest``; whether there was one."""
        return bool(self._redis.delete(self._keys.cache_entry(digest)))

    # -- reservations --------------------------------------------------------------------------

    def reserve(self, digest: str, owner: str, now: datetime) -> str:
        """Take the reservation for ``digest`` unless a live owner holds it.

        Returns:
            The owner afterwards: ``owner`` itself when it holds the reservation.
        """
        args: list[str | int] = [digest, owner, _ms(now), self._expiry_ms, "take"]
        return decode(self._reserve(keys=[self._keys.cache_reservations], args=args))

    def renew(self, digest: str, owner: str, now: datetime) -> bool:
        """Extend ``owner``'s reservation (a heartbeat); ``False`` if it no longer holds it."""
        args: list[str | int] = [digest, owner, _ms(now), self._expiry_ms, "renew"]
        return decode(self._reserve(keys=[self._keys.cache_reservations], args=args)) == owner

    def release(self, digest: str, owner: str) -> bool:
        """Give up ``owner``'s reservation; ``False`` if it held none."""
        return bool(self._unreserve(keys=[self._keys.cache_reservations], args=[digest, owner]))

    def reservations(self, digests: Iterable[str] | None = None) -> dict[str, Reservation]:
        """Current reservations (expired ones included until taken over or released)."""
        raw = self._redis.hgetall(self._keys.cache_reservations)
        wanted = None if digests is None else set(digests)
        result: dict[str, Reservation] = {}
        for field, value in raw.items():
            digest = decode(field)
            if wanted is not None and digest not in wanted:
                continue
            owner, _, expires = decode(value).rpartition("|")
            result[digest] = Reservation(owner, datetime.fromtimestamp(int(expires) / 1000, tz=UTC))
        return result
