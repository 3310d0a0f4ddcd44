"""The result cache in the phase machine: hits, misses, overwrite, serialize, takeover."""

from __future__ import annotations

from datetime import timedelta

from flyteidl.core import literals_pb2, tasks_pb2

from plugins.core import Phase
from plugins.idl import literal_map
from plugins.io import OUTPUTS_SUFFIX, join_reference
from plugins.tasks.types import TransformContext, TypeEngine
from scheduler._model import cache_key
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template


def cached(
    task_type: str,
    *,
    version: str = "1",
    serialize: bool = False,
    ignore: tuple[str, ...] = (),
    inputs: tuple[str, ...] = ("x",),
    retries: int = 0,
) -> tasks_pb2.TaskTemplate:
    t = template(task_type, inputs=inputs, retries=retries)
    t.metadata.discoverable = True
    t.metadata.discovery_version = version
    t.metadata.cache_serializable = serialize
    t.metadata.cache_ignore_input_vars.extend(ignore)
    return t


def statuses(ex) -> list[str]:
    return [e.cache_status for e in ex.events() if e.cache_status]


def launches(h: Harness, step: str) -> int:
    return sum(1 for job in h.log if job.step == step)


def test_a_miss_populates_then_a_hit_skips_the_plugin(harness_factory) -> None:
    h: Harness = harness_factory()
    # Given a cached echo task that ran once
    first = h.client.submit(cached("echo"), ints(x=5))
    h.drain()
    assert first.refresh().phase is Phase.SUCCESS
    assert statuses(first) == ["MISS", "POPULATED"]
    assert first.cache_status == "POPULATED"
    assert launches(h, "do") == 1
    # When the same inputs are submitted again
    second = h.client.submit(cached("echo"), ints(x=5))
    h.drain()
    # Then it succeeds from the cache, without a plugin call, with the same outputs
    assert second.refresh().phase is Phase.SUCCESS
    assert statuses(second) == ["HIT"]
    assert launches(h, "do") == 1
    assert second.outputs() == first.outputs()
    assert first.id in second.record.reason
    # And other inputs, another version or another project are misses
    for tmpl, inputs, project in (
        (cached("echo"), ints(x=6), "default"),
        (cached("echo", version="2"), ints(x=5), "default"),
        (cached("echo"), ints(x=5), "other"),
    ):
        other = h.client.submit(tmpl, inputs, project=project)
        h.drain()
        assert statuses(other.refresh()) == ["MISS", "POPULATED"]
    assert launches(h, "do") == 4


def test_the_interface_is_part_of_the_key(harness_factory) -> None:
    h: Harness = harness_factory()
    h.client.submit(cached("echo"), ints(x=1))
    h.drain()
    changed = cached("echo")
    changed.interface.outputs.variables["x"].description = "now documented"
    ex = h.client.submit(changed, ints(x=1))
    h.drain()
    assert statuses(ex.refresh()) == ["MISS", "POPULATED"]


def test_ignored_inputs_do_not_count(harness_factory) -> None:
    h: Harness = harness_factory()
    tmpl = cached("echo", inputs=("x", "y"), ignore=("y",))
    h.client.submit(tmpl, ints(x=1, y=1))
    h.drain()
    ex = h.client.submit(tmpl, ints(x=1, y=2))
    h.drain()
    assert statuses(ex.refresh()) == ["HIT"]
    assert ex.outputs().literals["y"].scalar.primitive.integer == 1  # the cached outputs


def test_overwrite_cache_runs_and_replaces_the_entry(harness_factory) -> None:
    h: Harness = harness_factory()
    first = h.client.submit(cached("echo"), ints(x=2))
    h.drain()
    again = h.client.submit(cached("echo"), ints(x=2), overwrite_cache=True)
    h.drain()
    assert again.refresh().phase is Phase.SUCCESS
    assert statuses(again) == ["MISS", "POPULATED"]
    assert launches(h, "do") == 2
    key = again.record.cache_key
    assert key is not None and key == first.refresh().record.cache_key
    entry = h.runtime.cache.entry(key)
    assert entry is not None and entry["execution"] == again.id
    third = h.client.submit(cached("echo"), ints(x=2))
    h.drain()
    assert statuses(third.refresh()) == ["HIT"]
    assert again.id in third.record.reason


def test_a_vanished_cache_file_is_a_miss_not_a_failure(harness_factory) -> None:
    h: Harness = harness_factory()
    first = h.client.submit(cached("echo"), ints(x=9))
    h.drain()
    entry = h.runtime.cache.entry(first.refresh().record.cache_key or "")
    assert entry is not None
    h.runtime.data_store.delete(entry["outputs"])
    second = h.client.submit(cached("echo"), ints(x=9))
    h.drain()
    assert second.refresh().phase is Phase.SUCCESS
    assert statuses(second) == ["MISS", "POPULATED"]


def test_remote_tasks_are_cached_too(harness_factory) -> None:
    h: Harness = harness_factory()
    first = h.client.submit(cached("remote"), ints(x=4))
    h.drain()
    name = first.refresh().record.token
    h.service.jobs[name] = "SUCCEEDED"
    first.signal()
    h.drain()
    assert first.refresh().phase is Phase.SUCCESS
    second = h.client.submit(cached("remote"), ints(x=4))
    h.drain()
    assert second.refresh().phase is Phase.SUCCESS
    assert statuses(second) == ["HIT"]
    assert sum(h.service.creates.values()) == 1


def test_cache_serialize_runs_once_and_the_others_reuse_it(harness_factory) -> None:
    h: Harness = harness_factory()
    tmpl = cached("remote", serialize=True)
    executions = [h.client.submit(tmpl, ints(x=3)) for _ in range(4)]
    h.drain()
    phases = sorted(e.refresh().phase.name for e in executions)
    assert phases == ["RUNNING"] + ["WAITING_FOR_CACHE"] * 3
    assert sum(h.service.creates.values()) == 1
    owner = next(e for e in executions if e.phase is Phase.RUNNING)
    # The waiters keep waiting across heartbeats while the owner lives
    h.advance(timedelta(seconds=20))
    h.drain()
    assert sum(h.service.creates.values()) == 1
    h.service.jobs[owner.record.token] = "SUCCEEDED"
    owner.signal()
    h.until(lambda: all(e.refresh().phase is Phase.SUCCESS for e in executions))
    assert sum(h.service.creates.values()) == 1
    assert statuses(owner) == ["MISS", "POPULATED"]
    for e in executions:
        if e.id != owner.id:
            assert statuses(e) == ["HIT"]
            assert e.outputs() == owner.outputs()
    assert h.runtime.cache.reservations() == {}


def test_a_failed_owner_hands_the_reservation_to_a_waiter(harness_factory) -> None:
    h: Harness = harness_factory()
    tmpl = cached("remote", serialize=True)
    a = h.client.submit(tmpl, ints(x=8))
    b = h.client.submit(tmpl, ints(x=8))
    h.drain()
    owner, waiter = (a, b) if a.refresh().phase is Phase.RUNNING else (b, a)
    assert waiter.refresh().phase is Phase.WAITING_FOR_CACHE
    h.service.jobs[owner.record.token] = "FAILED"
    owner.signal()
    h.until(lambda: waiter.refresh().phase is Phase.RUNNING)
    assert owner.refresh().phase is Phase.PERMANENT_FAILURE
    assert sum(h.service.creates.values()) == 2
    assert h.runtime.cache.reservations()[waiter.record.cache_key or ""].owner == waiter.id


def test_a_dead_owners_reservation_expires_and_is_taken_over(harness_factory) -> None:
    h: Harness = harness_factory(cache_heartbeat="2s")
    tmpl = cached("echo", serialize=True)
    key = cache_key(tmpl, literal_map(ints(x=1)), "default", "development")
    assert key is not None
    # Given a reservation whose owner no longer exists (it never heartbeats)
    assert h.runtime.cache.reserve(key.digest, "default/development/ghost", h.now) == (
        "default/development/ghost"
    )
    ex = h.client.submit(tmpl, ints(x=1))
    h.drain()
    assert ex.refresh().phase is Phase.WAITING_FOR_CACHE
    h.advance(timedelta(seconds=5))  # less than three heartbeats: still the ghost's
    h.drain()
    assert ex.refresh().phase is Phase.WAITING_FOR_CACHE
    # When three heartbeats pass, the waiter takes it over and runs the task
    h.until(lambda: ex.refresh().phase is Phase.SUCCESS)
    assert statuses(ex) == ["MISS", "POPULATED"]
    assert launches(h, "do") == 1


def test_cached_outputs_land_in_the_attempts_output_prefix(harness_factory) -> None:
    h: Harness = harness_factory()
    h.client.submit(cached("echo"), ints(x=11))
    h.drain()
    hit = h.client.submit(cached("echo"), ints(x=11))
    h.drain()
    path = join_reference(h.runtime.contexts.output_prefix(hit.refresh().record), OUTPUTS_SUFFIX)
    stored = h.runtime.data_store.read_protobuf(path, literals_pb2.LiteralMap)
    assert stored.literals["x"].scalar.primitive.integer == 11


def test_equal_dicts_are_one_key_whatever_their_order() -> None:
    # Untyped dicts travel as msgpack, whose bytes follow the insertion order.
    t = cached("echo")
    ctx = TransformContext.local()

    def key(value: dict[str, object]) -> str:
        literal = TypeEngine.to_literal(ctx, value, dict)
        inputs = literals_pb2.LiteralMap(literals={"x": literal})
        found = cache_key(t, inputs, "p", "d")
        assert found is not None
        return found.digest

    assert key({"a": 1, "b": {"c": 2, "d": 3}}) == key({"b": {"d": 3, "c": 2}, "a": 1})
    assert key({"a": 1}) != key({"a": 2})
    assert key({"a": 1}) != key({"a": 1.0})  # msgpack keeps ints and floats apart
