"""ExecutionStore: records, compare-and-set transitions, events and indexes on real Redis."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import timedelta

import pytest
import redis
from hypothesis import given

from plugins.core import ErrorKind, ExecutionError, Phase
from plugins.errors import ConfigError, ExecutionExistsError
from scheduler._backend import ExecutionStore
from scheduler._backend.keys import Keys
from scheduler._model import (
    Claim,
    Cursor,
    ExecutionFilter,
    ExecutionRecord,
    Step,
    WebAPIPhase,
    WebAPIState,
    execution_id,
)
from tests.helpers import RedisServer
from tests.redis import workers
from tests.redis.records import T0, place, record, records

KEYS = Keys()  # the key names of the stores here (the default prefix, one shard)


@pytest.fixture
def store(redis_client: redis.Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, retention=timedelta(hours=1), event_log_cap=5)


def test_execution_ids() -> None:
    assert execution_id("p", "d", "n") == "p/d/n"
    with pytest.raises(ValueError, match="name"):
        execution_id("p", "d", "a/b")
    with pytest.raises(ValueError, match="project"):
        execution_id("", "d", "n")


def test_create_and_get(store: ExecutionStore) -> None:
    created = store.create(record())
    assert created.version == 1
    assert store.get("p/d/e1") == created
    assert store.get("p/d/missing") is None
    with pytest.raises(ExecutionExistsError, match="p/d/e1"):
        store.create(record())
    assert [e.phase for e in store.events("p/d/e1")] == [Phase.UNDEFINED]


def test_full_record_round_trips(store: ExecutionStore) -> None:
    full = record(
        plugin_id="echo",
        attempt=2,
        user_failures=1,
        system_failures=1,
        phase=Phase.RUNNING,
        phase_version=3,
        reason="polling",
        plugin_state_version=1,
        plugin_state={"k": [1, 2]},
        webapi=WebAPIState(WebAPIPhase.RESOURCES_CREATED, 2, '{"job": "j"}', 1, "boom", T0, T0),
        last_error=ExecutionError("E", "m", ErrorKind.SYSTEM, is_recoverable=True),
        next_get_at=T0 + timedelta(seconds=30),
        waiting_namespace="echo:default",
        deadline=T0 + timedelta(hours=1),
        claim=Claim(Step.GET, 2),
        claimed_at=T0,
    )
    assert store.get(place(store, full).id) == replace(full, version=2, counted=True)


def test_transitions_are_compare_and_set(store: ExecutionStore) -> None:
    v1 = store.create(record())
    v2 = store.transition(v1, replace(v1, phase=Phase.QUEUED, updated_at=T0 + timedelta(seconds=1)))
    assert v2 is not None and v2.version == 2
    stale = store.transition(v1, replace(v1, phase=Phase.RUNNING))
    assert stale is None
    assert store.get(v1.id) == v2
    with pytest.raises(ValueError, match="cannot transition"):
        store.transition(v2, record("other"))


def test_events_only_on_phase_or_version_change_and_capped(store: ExecutionStore) -> None:
    current = store.create(record())
    steps = [
        (0, Phase.QUEUED, 0),
        (0, Phase.QUEUED, 0),  # same: no event
        (0, Phase.QUEUED, 2),
        (0, Phase.RUNNING, 0),
        (0, Phase.RUNNING, 0),  # same: no event
        (0, Phase.RETRYABLE_FAILURE, 0),
        (1, Phase.RETRYABLE_FAILURE, 0),  # a new attempt is a change
    ]
    for i, (attempt, phase, version) in enumerate(steps, start=1):
        new = replace(
            current,
            attempt=attempt,
            phase=phase,
            phase_version=version,
            updated_at=T0 + timedelta(seconds=i),
        )
        written = store.transition(current, new)
        assert written is not None
        current = written
    events = store.events(current.id)
    # Six distinct (attempt, phase, version) values, capped at the last five.
    assert [(e.attempt, e.phase, e.version) for e in events] == [
        (0, Phase.QUEUED, 0),
        (0, Phase.QUEUED, 2),
        (0, Phase.RUNNING, 0),
        (0, Phase.RETRYABLE_FAILURE, 0),
        (1, Phase.RETRYABLE_FAILURE, 0),
    ]
    assert events[-1].occurred_at == T0 + timedelta(seconds=7)


def test_indexes_follow_the_record(store: ExecutionStore) -> None:
    a = store.create(record("a", pending=True, updated_at=T0))
    b = store.create(record("b", pending=True, updated_at=T0 + timedelta(seconds=1)))
    assert store.indexes.pending() == ["p/d/a", "p/d/b"]
    assert store.indexes.pending(limit=1) == ["p/d/a"]

    # a: launched, polled every 30 s, 1 h deadline, claimed by a worker.
    a2 = store.transition(
        a,
        replace(
            a,
            pending=False,
            next_get_at=T0 + timedelta(seconds=30),
            deadline=T0 + timedelta(hours=1),
            claim=Claim(Step.CREATE, 0),
            claimed_at=T0 + timedelta(seconds=2),
            updated_at=T0 + timedelta(seconds=2),
        ),
    )
    assert a2 is not None
    assert store.indexes.pending() == ["p/d/b"]
    assert store.indexes.due(T0 + timedelta(seconds=29)) == []
    assert store.indexes.due(T0 + timedelta(seconds=30)) == ["p/d/a"]
    assert store.indexes.next_due_at() == T0 + timedelta(seconds=30)
    assert store.indexes.timed_out(T0 + timedelta(hours=1)) == ["p/d/a"]
    assert store.indexes.stale_claims(T0 + timedelta(seconds=1)) == []
    assert store.indexes.stale_claims(T0 + timedelta(seconds=2)) == ["p/d/a"]

    # b: waits for a token in ns1, then moves to ns2, then gets one.
    b2 = store.transition(b, replace(b, pending=False, waiting_namespace="ns1"))
    assert b2 is not None and store.indexes.waiting("ns1") == ["p/d/b"]
    b3 = store.transition(b2, replace(b2, waiting_namespace="ns2"))
    assert b3 is not None
    assert store.indexes.waiting("ns1") == [] and store.indexes.waiting("ns2") == ["p/d/b"]
    b4 = store.transition(b3, replace(b3, waiting_namespace=None, pending=True))
    assert (
        b4 is not None
        and store.indexes.waiting("ns2") == []
        and store.indexes.pending() == ["p/d/b"]
    )


def test_pending_is_ordered_by_when_work_may_start(store: ExecutionStore) -> None:
    store.create(record("a", updated_at=T0 + timedelta(seconds=5)))
    store.create(record("b", updated_at=T0 + timedelta(seconds=6)))
    store.create(record("later", not_before=T0 + timedelta(minutes=1)))
    assert store.indexes.pending() == ["p/d/a", "p/d/b", "p/d/later"]
    assert store.indexes.pending(T0 + timedelta(seconds=5)) == ["p/d/a"]
    assert store.indexes.pending(T0 + timedelta(seconds=59)) == ["p/d/a", "p/d/b"]


def test_extra_events_are_logged_before_the_records_own(store: ExecutionStore) -> None:
    a = store.create(record("a", phase=Phase.RUNNING, phase_version=1))
    failed = replace(a, phase=Phase.RETRYABLE_FAILURE, phase_version=0, updated_at=T0)
    retry = replace(a, attempt=1, phase=Phase.QUEUED, phase_version=0)
    assert store.transition(a, retry, events=[failed.to_event()]) is not None
    assert [(e.attempt, e.phase) for e in store.events(a.id)] == [
        (0, Phase.RUNNING),
        (0, Phase.RETRYABLE_FAILURE),
        (1, Phase.QUEUED),
    ]


def test_finishing_leaves_every_index_and_expires(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    a = place(
        store,
        record(
            "a",
            next_get_at=T0,
            deadline=T0,
            waiting_namespace="ns",
            claim=Claim(Step.GET, 0),
            claimed_at=T0,
        ),
    )
    done = store.transition(a, replace(a, finished=True, phase=Phase.SUCCESS, updated_at=T0))
    assert done is not None
    far = T0 + timedelta(days=365)
    assert (
        store.indexes.pending() == []
        and store.indexes.due(far) == []
        and store.indexes.timed_out(far) == []
    )
    assert store.indexes.stale_claims(far) == [] and store.indexes.waiting("ns") == []
    assert 0 < redis_client.ttl("{flyte-celery}:exec:p/d/a") <= 3600
    assert 0 < redis_client.ttl("{flyte-celery}:events:p/d/a") <= 3600
    assert store.indexes.count() == 1
    assert store.indexes.forget(T0 + timedelta(minutes=59)) == 0
    assert store.indexes.forget(T0 + timedelta(hours=2)) == 1
    assert store.indexes.count() == 0


def test_list_newest_first_with_phase_filter(store: ExecutionStore) -> None:
    for i in range(5):
        store.create(
            record(
                f"e{i}",
                created_at=T0 + timedelta(seconds=i),
                phase=Phase.RUNNING if i % 2 else Phase.QUEUED,
            )
        )
    assert [r.name for r in store.list(limit=3)] == ["e4", "e3", "e2"]
    assert [r.name for r in store.list(ExecutionFilter(phase=Phase.RUNNING))] == ["e3", "e1"]
    assert [r.name for r in store.get_many(["p/d/e0", "p/d/none", "p/d/e1"])] == ["e0", "e1"]


def test_pages_follow_their_cursor_through_ties_and_new_arrivals(store: ExecutionStore) -> None:
    # Seven share one submission instant: a cursor by time alone would skip some of them.
    for i in range(10):
        at = T0 + timedelta(seconds=min(i, 3))
        phase = Phase.RUNNING if i % 2 else Phase.QUEUED
        store.create(record(f"e{i}", created_at=at, phase=phase))
    seen: list[str] = []
    after: Cursor | None = None
    while True:
        page, after = store.page(ExecutionFilter(), after, limit=3)
        seen += [r.name for r in page]
        if after is None:
            break
        # An execution arriving between pages goes on top, not into the next page.
        store.create(record(f"new{len(seen)}", created_at=T0 + timedelta(hours=1)))
    assert sorted(seen) == sorted(f"e{i}" for i in range(10))
    assert len(seen) == 10
    assert seen[-3:] == ["e2", "e1", "e0"]
    running, after = store.page(ExecutionFilter(phase=Phase.RUNNING), None, limit=2)
    assert [r.name for r in running] == ["e9", "e7"]
    assert after is not None
    assert after.id == "p/d/e7"
    rest, end = store.page(ExecutionFilter(phase=Phase.RUNNING), after, limit=10)
    assert [r.name for r in rest] == ["e5", "e3", "e1"]
    assert end is None
    assert Cursor.parse(str(after)) == after
    with pytest.raises(ValueError, match="malformed page cursor"):
        Cursor.parse("p/d/e7")


@pytest.mark.parametrize("scan", [None, 30, 7])
def test_pages_across_many_chunks_and_a_tie_larger_than_a_chunk(
    store: ExecutionStore, scan: int | None
) -> None:
    # 260 executions, 130 of them at one instant (more than a read chunk); a filter
    # matching every seventh. Paging, with or without a scan bound, sees each once.
    records = [
        record(
            f"e{i:03d}",
            created_at=T0 + timedelta(seconds=min(i, 130)),
            phase=Phase.RUNNING if i % 7 == 0 else Phase.QUEUED,
        )
        for i in range(260)
    ]
    store.create_many(records)
    tied = sorted((r.name for r in records[130:]), reverse=True)  # reverse id order
    newest_first = tied + [r.name for r in reversed(records[:130])]
    running = [n for n in newest_first if int(n[1:]) % 7 == 0]
    for where, expected in (
        (ExecutionFilter(), newest_first),
        (ExecutionFilter(phase=Phase.RUNNING), running),
    ):
        seen: list[str] = []
        after: Cursor | None = None
        for _ in range(500):
            page, after = store.page(where, after, limit=10, scan=scan)
            assert len(page) <= 10
            seen += [r.name for r in page]
            if after is None:
                break
        assert seen == expected


def test_two_processes_race_and_exactly_one_wins_each_round(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    rounds = 30
    store = ExecutionStore(redis_client)
    store.create(record("race"))
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=workers.cas_racer, args=(redis_server.url, i, rounds)) for i in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    winners = [w.decode() for w in redis_client.lrange("race:winners", 0, -1)]
    assert sorted(int(w.split(":")[0]) for w in winners) == list(range(rounds))
    final = store.get("p/d/race")
    assert final is not None and final.version == rounds + 1 and final.phase_version == rounds
    keys = [(e.attempt, e.phase, e.version) for e in store.events("p/d/race")]
    assert len(keys) == len(set(keys)) == rounds + 1


@given(records)
def test_records_round_trip_through_json(rec: ExecutionRecord) -> None:
    assert ExecutionRecord.from_dict(rec.to_dict(), rec.version) == rec


def test_many_creates_and_transitions_are_pipelined_but_each_compare_and_set(
    store: ExecutionStore,
) -> None:
    created = store.create_many([record(f"m{i}") for i in range(5)] + [record("m0")])
    assert [c is not None for c in created] == [True] * 5 + [False]  # m0 was taken
    first = [c for c in created if c is not None]
    assert {c.version for c in first} == {1}
    assert store.get("p/d/m3") == first[3]
    # m1 changes under us: its transition from the stale record loses, the others win.
    store.transition(first[1], replace(first[1], reason="someone else"))
    moved = store.transition_many([(c, replace(c, reason="batched")) for c in first], batch=2)
    assert [m is not None for m in moved] == [True, False, True, True, True]
    assert [getattr(store.get(c.id), "reason", None) for c in first] == [
        "batched",
        "someone else",
        "batched",
        "batched",
        "batched",
    ]
    with pytest.raises(ValueError, match="cannot transition"):
        store.transition_many([(first[0], first[2])])


def test_a_page_goes_on_after_its_cursors_execution_expired(
    store: ExecutionStore, redis_client: redis.Redis
) -> None:
    store.create_many([record(f"e{i}", created_at=T0) for i in range(5)])
    first, after = store.page(ExecutionFilter(), None, limit=2)
    assert [r.name for r in first] == ["e4", "e3"]
    assert after is not None
    redis_client.zrem(KEYS.index("all"), after.id)  # as retention removes it
    rest, end = store.page(ExecutionFilter(), after, limit=10)
    assert [r.name for r in rest] == ["e2", "e1", "e0"]
    assert end is None


@pytest.mark.parametrize(("limit", "scan"), [(0, None), (-1, None), (5, 0)])
def test_a_page_needs_a_positive_limit_and_scan(
    store: ExecutionStore, limit: int, scan: int | None
) -> None:
    store.create(record("e1"))
    with pytest.raises(ConfigError, match="a page needs limit >= 1 and scan >= 1"):
        store.page(ExecutionFilter(phase=Phase.QUEUED), None, limit, scan)
