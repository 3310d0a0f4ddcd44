"""The record's layout in Redis: compact documents and events, hot fields written apart."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from hypothesis import given

from plugins.core import Phase, PhaseInfo, TaskInfo
from plugins.errors import ConfigError
from scheduler.backend import ExecutionStore, RedisRateLimiter
from scheduler.backend.records import (
    decode_event,
    decode_record,
    encode_doc,
    encode_event,
    encode_hot,
    hot_only,
)
from scheduler.model import (
    Claim,
    Event,
    ExecutionRecord,
    Step,
    WebAPIPhase,
    WebAPIState,
    machine,
)
from scheduler.model.cache_key import CacheStatus
from tests.helpers import RedisServer
from tests.redis.test_store import T0, record, records

RESYNC = timedelta(seconds=30)


def parts(client: redis.Redis, key: str) -> list[bytes]:
    """A stored record's version, hot part and document."""
    raw = client.get(key)
    assert raw is not None
    return raw.split(b"\n", 2)


@pytest.fixture
def store(redis_client: redis.Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, retention=timedelta(hours=1))


@given(records, records)
def test_compact_documents_round_trip_with_or_without_hot_fields(
    rec: ExecutionRecord, other: ExecutionRecord
) -> None:
    assert decode_record(7, encode_doc(rec)) == replace(rec, version=7)
    hot = {"claim": other.claim, "claimed_at": other.claimed_at, "next_get_at": other.next_get_at}
    assert decode_record(3, encode_doc(rec), encode_hot(other)) == replace(rec, version=3, **hot)


def test_documents_leave_defaults_and_the_id_out_and_older_documents_still_read() -> None:
    rec = record(phase=Phase.RUNNING, next_get_at=T0 + RESYNC)
    doc = json.loads(zlib.decompress(encode_doc(rec)))
    assert "id" not in doc and "last_error" not in doc and "teardown_reason" not in doc
    assert doc["next_get_at"] == int((T0 + RESYNC).timestamp()) * 1_000_000
    assert len(encode_doc(rec)) < len(json.dumps(rec.to_dict())) / 4
    older = json.dumps(rec.to_dict())  # what earlier releases stored: every field, ISO times
    assert decode_record(2, older) == replace(rec, version=2)


def test_events_are_compact_arrays_and_older_dict_events_still_read() -> None:
    event = Event(1, Phase.RUNNING, 3, "polling", T0, CacheStatus.MISS)
    assert json.loads(encode_event(event))[:4] == [1, "RUNNING", 3, "polling"]
    assert decode_event(encode_event(event)) == event
    plain = replace(event, cache_status=None)
    assert decode_event(encode_event(plain)) == plain
    assert decode_event(plain.to_json()) == plain


def test_a_claim_writes_only_the_hot_fields_and_a_full_write_folds_them_back(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    running = record(
        phase=Phase.RUNNING,
        pending=False,
        next_get_at=T0,
        webapi=WebAPIState(phase=WebAPIPhase.RESOURCES_CREATED),
        phase_info=PhaseInfo.running(0, TaskInfo(occurred_at=T0)).to_dict(),
    )
    first = store.create(running)
    key = store._keys.record(first.id)
    doc_before = parts(redis_client, key)[2]
    claimed = replace(machine.claimed(first, T0, Step.GET), next_get_at=None)
    assert hot_only(first, claimed)
    stored = store.transition(first, claimed)
    assert stored is not None and stored.version == 2
    version, hot, doc = parts(redis_client, key)
    assert version == b"2" and doc == doc_before  # the document was not rewritten
    assert json.loads(hot)["claim"] == str(Claim(Step.GET, 0))
    assert store.get(first.id) == stored
    assert store.due(T0 + RESYNC) == [] and store.stale_claims(T0 + RESYNC) == [first.id]
    assert store.events(first.id)[-1].phase is Phase.RUNNING and len(store.events(first.id)) == 1
    # A stale writer of hot fields loses its compare-and-set like any other.
    assert store.transition(first, replace(first, next_get_at=T0 + RESYNC)) is None
    # Status says the same as before: only the claim and the next Get change.
    info = PhaseInfo.running(0, TaskInfo(occurred_at=T0 + RESYNC))
    same = machine.observed(stored, T0 + RESYNC, info, RESYNC)
    assert hot_only(stored, same) and same.updated_at == stored.updated_at
    polled = store.transition(stored, same)
    assert polled is not None and store.get(first.id) == polled
    assert store.due(T0 + 2 * RESYNC) == [first.id] and store.stale_claims(T0 + RESYNC) == []
    # A real change rewrites the document, and the hot fields fold back into it.
    changed = store.transition(polled, replace(polled, phase_version=1, reason="progress"))
    assert changed is not None and parts(redis_client, key)[1] == b""
    assert store.get(first.id) == changed
    assert [e.version for e in store.events(first.id)] == [0, 1]


def test_a_batch_mixes_hot_and_full_writes_in_order(store: ExecutionStore) -> None:
    created = [c for c in store.create_many([record(f"b{i}", pending=False) for i in range(4)])]
    assert all(c is not None for c in created)
    first = [c for c in created if c is not None]
    pairs = [
        (first[0], replace(first[0], next_get_at=T0)),  # hot
        (first[1], replace(first[1], reason="full")),  # full
        (first[2], replace(first[2], claim=Claim(Step.GET, 0), claimed_at=T0)),  # hot
        (replace(first[3], version=9), replace(first[3], next_get_at=T0)),  # stale
    ]
    written = store.transition_many(pairs)
    assert [w is not None for w in written] == [True, True, True, False]
    assert [store.get(c.id) for c in first[:3]] == written[:3]


def test_the_read_limiter_grants_a_batch_up_to_its_burst(redis_client: redis.Redis) -> None:
    limiter = RedisRateLimiter(redis_client, "t:limit", qps=0.5, burst=5)
    granted, wait = limiter.take(8)
    assert granted == 5 and timedelta(0) < wait <= timedelta(seconds=2)
    granted, wait = limiter.take(3)
    assert granted == 0 and timedelta(seconds=1) < wait <= timedelta(seconds=2)
    assert not limiter.try_acquire()


def test_a_client_that_decodes_responses_is_refused(redis_server: RedisServer) -> None:
    texts = redis.Redis.from_url(redis_server.url, decode_responses=True)
    with pytest.raises(ConfigError, match="decode_responses"):
        ExecutionStore(texts)


def test_an_earlier_releases_hash_record_reads_and_is_rewritten_on_its_next_write(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    rec = record("old", phase=Phase.RUNNING, pending=False, next_get_at=T0)
    key = store._keys.record(rec.id)
    redis_client.hset(key, mapping={"v": 4, "doc": json.dumps(rec.to_dict())})
    old = store.get(rec.id)
    assert old == replace(rec, version=4)
    assert store.get_many([rec.id, "p/d/none"]) == [old]
    claimed = store.transition(old, replace(old, claim=Claim(Step.GET, 0), claimed_at=T0))
    assert claimed is not None and claimed.version == 5 and redis_client.type(key) == b"string"
    assert store.get(rec.id) == claimed
    redis_client.delete(key)
    redis_client.hset(key, mapping={"v": 4, "doc": json.dumps(rec.to_dict())})
    assert store.transition(old, replace(old, reason="full")) is not None
    assert store.get(rec.id) == replace(rec, version=5, reason="full")
