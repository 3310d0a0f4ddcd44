"""Submission throughput: Client.submit_many and Client.submit, against raw Redis SETs.

N executions (FLYTE_CELERY_BENCH_N, default 20,000) of a template with one input, to a
file:// storage root, with no scheduler running (submission only). The reference is raw
Redis SETs, one round trip each and pipelined, measured on the same server in the same
run. The issue's target is submit_many >= 5,000 executions/s on a 2-core machine, at
20,000 and at 100,000 (``FLYTE_CELERY_BENCH_N=100000``).

A second test submits to a simulated object store (``tests/object_store.py``: every write
waits 20 ms, as an upload does) and compares with the rate of writes one at a time
(50/s): what the concurrent writes of ``DataStore.write_many`` are worth.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import redis
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.builtin import ECHO
from plugins.core import PluginRegistry
from scheduler import Client, Settings, Submission
from scheduler._runtime import Runtime
from tests.helpers import INTEGER, RedisServer, task_template
from tests.object_store import PROTOCOL, SlowMemoryFileSystem

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "20000"))
OBJECT_STORE_N = min(N, 10000)  # at 20 ms a write, enough for a steady rate


def echo_template() -> tasks_pb2.TaskTemplate:
    return task_template("echo", inputs={"x": INTEGER})


def literal(n: int) -> dict[str, literals_pb2.Literal]:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.integer = n
    return {"x": lit}


def raw_set_rates(client: redis.Redis, n: int) -> tuple[float, float]:
    start = time.perf_counter()
    for i in range(n):
        client.set(f"bench:raw:{i}", i)
    one_by_one = n / (time.perf_counter() - start)
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"bench:raw:{i}", i)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    return one_by_one, n / (time.perf_counter() - start)


def echo_client(redis_server: RedisServer, storage: str) -> Client:
    settings = Settings(
        redis_url=redis_server.url, storage=storage, key_prefix=f"bench{uuid.uuid4().hex[:6]}"
    )
    registry = PluginRegistry()
    registry.register(ECHO)
    return Client(runtime=Runtime(settings, registry=registry))


def test_submission_throughput(redis_server: RedisServer, tmp_path: Path) -> None:
    client = echo_client(redis_server, f"file://{tmp_path}/storage")
    template = echo_template()
    raw = redis_server.client()
    set_rate, set_pipelined = raw_set_rates(raw, N)

    batch = [Submission(template, literal(i)) for i in range(N)]
    start = time.perf_counter()
    executions = client.submit_many(batch, project="many")
    many_rate = N / (time.perf_counter() - start)
    assert len(executions) == N

    single_n = max(100, N // 10)
    start = time.perf_counter()
    for i in range(single_n):
        client.submit(template, literal(i), project="single")
    single_rate = single_n / (time.perf_counter() - start)

    info = raw.info("memory")
    print(
        f"\nsubmission, N={N}: submit_many {many_rate:,.0f}/s, submit {single_rate:,.0f}/s; "
        f"raw SET {set_rate:,.0f}/s, pipelined {set_pipelined:,.0f}/s\n"
        f"  submit_many / raw SET = {many_rate / set_rate:.2f}x, "
        f"/ pipelined SET = {many_rate / set_pipelined:.3f}x; "
        f"submit / raw SET = {single_rate / set_rate:.2f}x; "
        f"Redis used {info['used_memory'] / 1e6:.1f} MB"
    )
    client.close()


def test_submission_to_an_object_store(redis_server: RedisServer) -> None:
    client = echo_client(redis_server, f"{PROTOCOL}://bench-{uuid.uuid4().hex[:6]}")
    template = echo_template()
    SlowMemoryFileSystem.most_in_flight = 0
    one_at_a_time = 1 / SlowMemoryFileSystem.latency
    batch = [Submission(template, literal(i)) for i in range(OBJECT_STORE_N)]
    start = time.perf_counter()
    executions = client.submit_many(batch, project="many")
    rate = OBJECT_STORE_N / (time.perf_counter() - start)
    assert len(executions) == OBJECT_STORE_N
    print(
        f"\nsubmission to an object store ({SlowMemoryFileSystem.latency * 1000:.0f} ms a "
        f"write), N={OBJECT_STORE_N}: submit_many {rate:,.0f}/s = "
        f"{rate / one_at_a_time:.0f}x writes one at a time ({one_at_a_time:.0f}/s); "
        f"at most {SlowMemoryFileSystem.most_in_flight} writes in flight"
    )
    SlowMemoryFileSystem.blobs.clear()
    client.close()
