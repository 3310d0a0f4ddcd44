"""The store's reads of records and events, each under the key names of its shard.

A record is one string (see :mod:`.records`), so a batch of them is one ``MGET`` per shard:
a shard's keys share a hash tag, so each ``MGET`` is one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.records import decode_event, decode_record, split
from scheduler._backend.shards import ShardMap
from scheduler._model import Event, ExecutionRecord

__all__ = ["read_events", "read_records"]


def read_records(
    redis: Redis,
    shards: ShardMap,
    execution_ids: list[str],
    rewrite: Callable[[ExecutionRecord], ExecutionRecord],
) -> list[ExecutionRecord]:
    """The records that exist among ``execution_ids``, in order, in one round trip.

    One MGET per shard (a pipeline of GETs costs a command's packing and parsing per
    record); MGET answers nil for a key that holds no string, so an earlier release's
    record (a hash) is read with a second round trip, only when some answer was nil, and
    given to ``rewrite``, which stores it in this release's layout.
    """
    if not execution_ids:
        return []
    keys = [shards.of(i).record(i) for i in execution_ids]
    raw = _mget(redis, shards, keys, execution_ids)
    missing = [key for key, value in zip(keys, raw, strict=True) if value is None]
    hashes: dict[str, tuple[Any, Any]] = {}
    if missing:
        pipe = redis.pipeline(transaction=False)
        for key in missing:
            pipe.hmget(key, ["v", "doc"])
        for key, reply in zip(missing, pipe.execute(raise_on_error=False), strict=True):
            # A string written since the MGET (WRONGTYPE here) was not there: skip it.
            if not isinstance(reply, Exception) and None not in reply:
                hashes[key] = (reply[0], reply[1])
    records = []
    for key, value in zip(keys, raw, strict=True):
        if value is not None:
            version, hot, doc = split(value)
            records.append(decode_record(version, doc, hot))
        elif key in hashes:
            records.append(rewrite(decode_record(*hashes[key])))
    return records


def _mget(
    redis: Redis, shards: ShardMap, keys: list[str], execution_ids: list[str]
) -> list[bytes | None]:
    """The records' raw values: one MGET per shard, pipelined."""
    groups = shards.group(range(len(keys)), execution_ids.__getitem__)
    if len(groups) == 1:
        return cast(list[bytes | None], redis.mget(keys))
    pipe = redis.pipeline(transaction=False)
    for positions in groups.values():
        pipe.mget([keys[p] for p in positions])
    raw: list[bytes | None] = [None] * len(keys)
    for positions, values in zip(groups.values(), pipe.execute(), strict=True):
        for position, value in zip(positions, values, strict=True):
            raw[position] = value
    return raw


def read_events(redis: Redis, keys: Keys, execution_id: str) -> list[Event]:
    """An execution's events, oldest first (``keys``: its shard's)."""
    return [decode_event(e) for e in redis.lrange(keys.events(execution_id), 0, -1)]
