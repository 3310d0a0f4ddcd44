"""What the metrics read from Redis: executions by phase kept by every write, and the
collector's answer when Redis is away; the in-process plugin-call instruments."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import redis

from plugins.core import Phase
from plugins.errors import StorageError
from scheduler import Settings
from scheduler._backend import ExecutionStore
from scheduler._backend.indexes import COUNTS, PhaseCount
from scheduler._backend.keys import Keys
from scheduler._runtime import Runtime
from scheduler.console import DeploymentCollector
from scheduler.metrics import (
    PLUGIN_LATENCY,
    PLUGIN_REQUESTS_FAILURE,
    PLUGIN_REQUESTS_SUCCESS,
    plugin_call,
)
from tests.helpers import free_port
from tests.redis.records import T0, record

KEYS = Keys()  # the key names of the stores here (the default prefix, one shard)


@pytest.fixture
def store(redis_client: redis.Redis) -> ExecutionStore:
    return ExecutionStore(redis_client, retention=timedelta(hours=1))


def counts(store: ExecutionStore) -> dict[tuple[str, Phase], int]:
    return {(c.task_type, c.phase): c.count for c in store.indexes.phase_counts() if c.count}


def test_every_write_keeps_the_counts_by_task_type_and_phase(store: ExecutionStore) -> None:
    one = store.create(record("c1", phase=Phase.QUEUED))
    batch = [record(f"m{i}", task_type="sleep", phase=Phase.QUEUED) for i in range(3)]
    many = store.create_many(batch)
    assert counts(store) == {("echo", Phase.QUEUED): 1, ("sleep", Phase.QUEUED): 3}
    running = store.transition(one, replace(one, phase=Phase.RUNNING, updated_at=T0))
    assert running is not None
    # A write that keeps the phase (a claim, the next Get) leaves the counts alone.
    later = store.transition(running, replace(running, next_get_at=T0 + timedelta(seconds=5)))
    assert later is not None
    assert counts(store) == {("echo", Phase.RUNNING): 1, ("sleep", Phase.QUEUED): 3}
    pairs = [(r, replace(r, phase=Phase.SUCCESS, pending=False)) for r in many if r]
    assert all(store.transition_many(pairs))
    done = store.transition(later, replace(later, phase=Phase.PERMANENT_FAILURE, pending=False))
    assert done is not None
    # Open phases count what is in them now; terminal ones every execution that got there.
    assert counts(store) == {("echo", Phase.PERMANENT_FAILURE): 1, ("sleep", Phase.SUCCESS): 3}
    # A conflicting write (stale version) changes nothing.
    assert store.transition(one, replace(one, phase=Phase.RUNNING)) is None
    assert counts(store) == {("echo", Phase.PERMANENT_FAILURE): 1, ("sleep", Phase.SUCCESS): 3}
    assert PhaseCount("sleep", Phase.SUCCESS, 3) in store.indexes.phase_counts()


def test_a_record_older_than_the_counts_takes_nothing_from_the_others(
    store: ExecutionStore,
) -> None:
    created = store.create(record("new", phase=Phase.QUEUED))
    assert created.counted
    # As an earlier release wrote it: RUNNING, never counted.
    older = replace(store.create(record("old", phase=Phase.QUEUED)), counted=False)
    store._redis.hincrby(KEYS.index(COUNTS), "echo|QUEUED", -1)
    assert counts(store) == {("echo", Phase.QUEUED): 1}
    moved = store.transition(older, replace(older, phase=Phase.RUNNING))
    assert moved is not None and moved.counted
    # The new record's QUEUED count stays; the older one is counted from now on.
    assert counts(store) == {("echo", Phase.QUEUED): 1, ("echo", Phase.RUNNING): 1}
    assert store.get(moved.id).counted  # type: ignore[union-attr]


def test_plugin_calls_are_counted_and_timed_by_outcome() -> None:
    def sample(metric: object, **labels: str) -> float:
        return sum(
            s.value
            for family in metric.collect()  # type: ignore[attr-defined]
            for s in family.samples
            if s.name.endswith(("_total", "_count")) and labels.items() <= s.labels.items()
        )

    ok_before = sample(PLUGIN_REQUESTS_SUCCESS, plugin="p-unit", operation="create")
    with plugin_call("p-unit", "create"):
        pass
    with pytest.raises(StorageError), plugin_call("p-unit", "create"):
        raise StorageError("no bucket", code="NotFound")
    with pytest.raises(KeyError), plugin_call("p-unit", "get"):
        raise KeyError("x")
    assert sample(PLUGIN_REQUESTS_SUCCESS, plugin="p-unit", operation="create") == ok_before + 1
    failures = PLUGIN_REQUESTS_FAILURE
    assert sample(failures, plugin="p-unit", operation="create", error_code="NotFound") == 1
    assert sample(failures, plugin="p-unit", operation="get", error_code="KeyError") == 1
    assert sample(PLUGIN_LATENCY, plugin="p-unit", operation="create") == ok_before + 2


def test_the_collector_says_redis_is_down_instead_of_failing_the_scrape() -> None:
    settings = Settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    runtime = Runtime(settings)
    families = list(DeploymentCollector(runtime).collect())
    assert [(f.name, [s.value for s in f.samples]) for f in families] == [
        ("flyte_celery_redis_up", [0.0])
    ]
    runtime.close()
