"""The record's layout in Redis: compact documents and events, hot fields written apart."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from hypothesis import given

from plugins.core import Phase, PhaseInfo, TaskInfo
from plugins.errors import ConfigError
from plugins.webapi import CachingConfig
from scheduler._backend import ExecutionStore, RedisRateLimiter
from scheduler._backend import records as records_module
from scheduler._backend.keys import Keys
from scheduler._backend.records import (
    HOT_WIDTH,
    decode_event,
    decode_record,
    encode_doc,
    encode_event,
    encode_hot,
    hot_only,
)
from scheduler._model import (
    Claim,
    Event,
    ExecutionRecord,
    Step,
    WebAPIPhase,
    WebAPIState,
    machine,
)
from scheduler._model.cache_key import CacheStatus
from tests.helpers import RedisServer
from tests.redis.records import T0, place, record, records

RESYNC = timedelta(seconds=30)


def parts(client: redis.Redis, key: str) -> list[bytes]:
    """A stored record's version, hot part and document (its route left out)."""
    raw = client.get(key)
    assert raw is not None
    version, _, hot, doc = raw.split(b"\n", 3)
    return [version, hot, doc]


KEYS = Keys()  # the key names of the stores here (the default prefix, one shard)


@pytest.fixture
def store(redis_client: redis.Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, retention=timedelta(hours=1))


@given(records, records)
def test_compact_documents_round_trip_with_their_hot_fields(
    rec: ExecutionRecord, other: ExecutionRecord
) -> None:
    assert decode_record(7, encode_doc(rec), encode_hot(rec)) == replace(rec, version=7)
    hot = {"claim": other.claim, "claimed_at": other.claimed_at, "next_get_at": other.next_get_at}
    assert decode_record(3, encode_doc(rec), encode_hot(other)) == replace(rec, version=3, **hot)


def test_documents_leave_defaults_and_the_id_out_and_older_documents_still_read() -> None:
    rec = record(phase=Phase.RUNNING, next_get_at=T0 + RESYNC)
    doc = json.loads(zlib.decompress(encode_doc(rec)))
    assert "id" not in doc and "last_error" not in doc and "teardown_reason" not in doc
    assert "next_get_at" not in doc  # a hot field: it has its own line
    assert json.loads(encode_hot(rec))["next_get_at"] == int((T0 + RESYNC).timestamp()) * 10**6
    assert doc["created_at"] == int(T0.timestamp()) * 10**6
    assert len(encode_doc(rec)) < len(json.dumps(rec.to_dict())) / 4
    older = json.dumps(rec.to_dict())  # what earlier releases stored: every field, ISO times
    assert decode_record(2, older) == replace(rec, version=2)


def test_a_document_holding_a_float_that_is_not_a_number_still_reads() -> None:
    # The fast parser refuses NaN, which the standard encoder writes for a plugin's NaN.
    rec = record(phase=Phase.RUNNING, plugin_state={"score": float("nan"), "n": 1})
    back = decode_record(4, encode_doc(rec))
    assert isinstance(back.plugin_state, dict) and back.plugin_state["n"] == 1
    assert back.plugin_state["score"] != back.plugin_state["score"]  # NaN, as written


def test_events_are_compact_arrays_and_older_dict_events_still_read() -> None:
    event = Event(1, Phase.RUNNING, 3, "polling", T0, CacheStatus.MISS)
    assert json.loads(encode_event(event))[:4] == [1, "RUNNING", 3, "polling"]
    assert decode_event(encode_event(event)) == event
    plain = replace(event, cache_status=None)
    assert decode_event(encode_event(plain)) == plain
    assert decode_event(plain.to_json()) == plain
    # A job's events name it, with or without a cache status, as objects: the previous
    # release reads an object by its keys (an array's sixth item must be a cache status).
    for job_event in (replace(event, job="4f1c-job"), replace(plain, job="4f1c-job")):
        assert decode_event(encode_event(job_event)) == job_event
        assert json.loads(encode_event(job_event))["job"] == "4f1c-job"
        assert Event.from_json(encode_event(job_event)) == job_event  # the object reader
    assert decode_event('[1,"RUNNING",3,"polling",0]').job is None
    # Who asked (the audit trail) rides the object form too.
    asked = replace(plain, actor="team-a")
    assert decode_event(encode_event(asked)) == asked
    assert json.loads(encode_event(asked))["actor"] == "team-a"


def test_a_submission_names_who_submitted_on_its_record_and_first_event(
    store: ExecutionStore,
) -> None:
    created = store.create(record("who", submitted_by="team-a"))
    assert store.get(created.id) == created and created.submitted_by == "team-a"
    assert [e.actor for e in store.events(created.id)] == ["team-a"]
    anonymous = store.create(record("nobody"))
    assert [e.actor for e in store.events(anonymous.id)] == [None]


def test_a_write_back_names_its_job_on_every_event_it_logs(store: ExecutionStore) -> None:
    queued = store.create(record(phase=Phase.QUEUED))
    ended = Event(0, Phase.RETRYABLE_FAILURE, 0, "first attempt failed", T0)
    nxt = replace(queued, phase=Phase.RUNNING, attempt=1, reason="again")
    running = store.transition(queued, nxt, [ended], job="job-1")
    assert running is not None
    done = store.transition(running, replace(running, phase=Phase.SUCCESS, finished=True))
    assert done is not None
    jobs = [(e.phase, e.job) for e in store.events(queued.id)]
    assert jobs == [
        (Phase.QUEUED, None),
        (Phase.RETRYABLE_FAILURE, "job-1"),
        (Phase.RUNNING, "job-1"),
        (Phase.SUCCESS, None),  # written without a job: the scheduler's or a client's
    ]


def running_web_api() -> ExecutionRecord:
    """A running web-API execution whose Get is due at T0."""
    return record(
        phase=Phase.RUNNING,
        pending=False,
        next_get_at=T0,
        webapi=WebAPIState(phase=WebAPIPhase.RESOURCES_CREATED),
        phase_info=PhaseInfo.running(0, TaskInfo(occurred_at=T0)).to_dict(),
    )


def test_a_claim_writes_only_the_hot_fields_and_a_full_write_folds_them_back(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    first = place(store, running_web_api())
    key = KEYS.record(first.id)
    doc_before = parts(redis_client, key)[2]
    claimed = replace(machine.claimed(first, T0, Step.GET), next_get_at=None)
    assert hot_only(first, claimed)
    stored = store.transition(first, claimed)
    assert stored is not None and stored.version == 3
    version, hot, doc = parts(redis_client, key)
    assert version == b"3" and doc == doc_before  # the document was not rewritten
    assert json.loads(hot)["claim"] == str(Claim(Step.GET, 0))
    assert store.get(first.id) == stored
    assert store.indexes.due(T0 + RESYNC) == [] and store.indexes.stale_claims(T0 + RESYNC) == [
        first.id
    ]
    assert store.events(first.id)[-1].phase is Phase.RUNNING and len(store.events(first.id)) == 1
    # A stale writer of hot fields loses its compare-and-set like any other.
    assert store.transition(first, replace(first, next_get_at=T0 + RESYNC)) is None
    # Status says the same as before: only the claim and the next Get change.
    info = PhaseInfo.running(0, TaskInfo(occurred_at=T0 + RESYNC))
    same = machine.observed(stored, T0 + RESYNC, info, CachingConfig(resync_interval=RESYNC))
    assert hot_only(stored, same) and same.updated_at == stored.updated_at
    polled = store.transition(stored, same)
    assert polled is not None and store.get(first.id) == polled
    assert (
        store.indexes.due(T0 + 2 * RESYNC) == [first.id]
        and store.indexes.stale_claims(T0 + RESYNC) == []
    )
    # A real change rewrites the document.
    changed = store.transition(polled, replace(polled, phase_version=1, reason="progress"))
    assert changed is not None and parts(redis_client, key)[2] != doc_before
    assert store.get(first.id) == changed
    assert [e.version for e in store.events(first.id)] == [0, 1]


def test_a_batch_mixes_hot_and_full_writes_in_order(store: ExecutionStore) -> None:
    first = [place(store, record(f"b{i}", pending=False)) for i in range(4)]
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


def test_an_earlier_releases_hash_record_is_rewritten_when_read(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    rec = record("old", phase=Phase.RUNNING, pending=False, next_get_at=T0)
    key = KEYS.record(rec.id)
    redis_client.hset(key, mapping={"v": 4, "doc": json.dumps(rec.to_dict())})
    redis_client.rpush(KEYS.events(rec.id), Event(0, Phase.RUNNING, 0, "", T0).to_json())
    # Rewritten, it is counted under its phase from now on.
    assert store.get_many([rec.id, "p/d/none"]) == [replace(rec, version=5, counted=True)]
    assert redis_client.type(key) == b"string"
    assert store.get(rec.id) == replace(rec, version=5, counted=True)
    assert [e.phase for e in store.events(rec.id)] == [Phase.RUNNING]  # no event: no change
    read = replace(rec, version=5, counted=True)  # as a reader now gets it
    claimed = store.transition(read, replace(read, claim=Claim(Step.GET, 0), claimed_at=T0))
    assert claimed is not None and claimed.version == 6 and store.get(rec.id) == claimed
    redis_client.delete(key)
    redis_client.hset(key, mapping={"v": 4, "doc": json.dumps(rec.to_dict())})
    # A full write from the hash's version converts it; a hot-only write refuses it (the
    # writer re-reads, which converts it).
    late = replace(rec, version=4)
    assert store.transition(late, replace(late, claim=Claim(Step.GET, 0), claimed_at=T0)) is None
    assert store.transition(late, replace(rec, reason="late")) is not None
    assert redis_client.type(key) == b"string"
    assert store.get(rec.id) == replace(rec, reason="late", version=5, counted=True)


def test_due_gets_are_claimed_server_side_from_the_route_alone(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    created = WebAPIState(phase=WebAPIPhase.RESOURCES_CREATED)
    waiting = record("w", pending=False, next_get_at=T0, webapi=created, plugin_id="remote")
    core = record("c", pending=False, next_get_at=T0, webapi=created, plugin_id="counter")
    quota = replace(waiting, id="p/d/q", name="q", token_namespace="remote:gpu", attempt=2)
    claimed = replace(
        waiting, id="p/d/x", name="x", claim=Claim(Step.GET, 0), claimed_at=T0 - RESYNC
    )
    later = replace(waiting, id="p/d/l", name="l", next_get_at=T0 + RESYNC)
    stored = {r.id: place(store, r) for r in [waiting, core, quota, claimed, later]}
    gone = place(store, replace(waiting, id="p/d/g", name="g"))
    redis_client.delete(KEYS.record(gone.id))
    due = store.indexes.claim_due(T0, 100, ["counter"])
    assert {(d.id, str(d.claim), d.plugin_id, d.namespace) for d in due} == {
        ("p/d/w", "get:0", "remote", None),
        ("p/d/c", "handle:0", "counter", None),
        ("p/d/q", "get:2", "remote", "remote:gpu"),
    }
    for execution_id in ("p/d/w", "p/d/c", "p/d/q"):
        now = store.get(execution_id)
        assert now is not None and now.version == stored[execution_id].version + 1
        assert now.claimed_at == T0 and now.next_get_at is None
        assert replace(now, claim=None, claimed_at=None, next_get_at=T0, version=0) == replace(
            stored[execution_id], version=0
        )
    # Already claimed: it just leaves the index (its claim and the rest untouched).
    left = store.get("p/d/x")
    assert left is not None and left.claim == Claim(Step.GET, 0) and left.next_get_at is None
    assert store.indexes.due(T0 + 2 * RESYNC) == [
        "p/d/l"
    ]  # not yet due, still indexed; gone dropped
    assert set(store.indexes.stale_claims(T0)) == {"p/d/w", "p/d/c", "p/d/q", "p/d/x"}
    # An earlier release's record is rewritten at once and claimed at the next call.
    old = replace(waiting, id="p/d/o", name="o")
    redis_client.hset(KEYS.record(old.id), mapping={"v": 3, "doc": json.dumps(old.to_dict())})
    redis_client.zadd(KEYS.index("due"), {old.id: int(T0.timestamp() * 1000)})
    assert store.indexes.claim_due(T0, 100, []) == []
    assert [(d.id, str(d.claim)) for d in store.indexes.claim_due(T0, 100, [])] == [
        ("p/d/o", "get:0")
    ]


def test_an_unreadable_record_under_the_due_index_leaves_it(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    keys = KEYS
    redis_client.hset(keys.record("p/d/broken"), mapping={"junk": 1})  # a hash, no v or doc
    redis_client.zadd(keys.index("due"), {"p/d/broken": int(T0.timestamp() * 1000)})
    assert store.indexes.claim_due(T0, 100, []) == []
    assert store.indexes.due(T0 + RESYNC) == []


def writes(client: redis.Redis) -> dict[str, int]:
    """How many SET and SETRANGE commands Redis ran since the last reset."""
    stats = client.info("commandstats")
    return {
        name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("set", "setrange")
    }


def test_the_scripts_pad_the_hot_line_as_the_store_does() -> None:
    source = (Path(records_module.__file__).parent / "lua" / "touch.lua").read_text()
    assert f"local WIDTH = {HOT_WIDTH}" in source
    longest = record(claim=Claim(Step.DELETE, 999), claimed_at=T0, next_get_at=T0 + RESYNC)
    assert len(encode_hot(longest)) == HOT_WIDTH, "the longest hot fields fit the padded line"


def test_a_poll_rewrites_the_records_head_in_place_and_never_its_document(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    current = place(store, running_web_api())
    key = KEYS.record(current.id)
    size = redis_client.strlen(key)
    core: list[str] = []
    while current.version < 12:  # claimed, then polled: versions 3 to 12
        redis_client.config_resetstat()
        if current.claim is None:
            (claimed,) = store.indexes.claim_due(current.next_get_at or T0, 10, core)
            assert claimed.claim == Claim(Step.GET, 0)
            found = store.get(current.id)
            assert found is not None and found.version == current.version + 1
            current = found
        else:
            again = replace(current, claim=None, claimed_at=None, next_get_at=T0 + RESYNC)
            written = store.transition(current, again)
            assert written is not None
            current = written
        assert store.get(current.id) == current
        if current.version == 10:  # a digit more: the record is written whole
            assert writes(redis_client) == {"set": 1, "setrange": 0}
            assert redis_client.strlen(key) == size + 1
            size += 1
        else:
            assert writes(redis_client) == {"set": 0, "setrange": 1}, current.version
            assert redis_client.strlen(key) == size


def test_a_record_of_an_earlier_release_is_padded_by_its_first_poll(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    current = place(store, record(phase=Phase.RUNNING, pending=False, next_get_at=T0))
    key = KEYS.record(current.id)
    version, route, hot, doc = redis_client.get(key).split(b"\n", 3)  # type: ignore[union-attr]
    redis_client.set(key, b"\n".join([version, route, hot.rstrip(), doc]))  # unpadded
    assert store.get(current.id) == current
    claimed = replace(current, claim=Claim(Step.GET, 0), claimed_at=T0, next_get_at=None)
    written = store.transition(current, claimed)
    assert written is not None and store.get(current.id) == written
    assert len(parts(redis_client, key)[1]) == HOT_WIDTH
