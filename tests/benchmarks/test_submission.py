"""Submission throughput: Client.submit_many and Client.submit, against raw Redis SETs.

N executions (FLYTE_CELERY_BENCH_N, default 20,000) of a template with one input, to a
file:// storage root, with no scheduler running (submission only). The reference is raw
Redis SETs, one round trip each and pipelined, measured on the same server in the same
run. The issue's target is submit_many >= 5,000 executions/s on a 2-core machine.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import redis
from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2

from plugins.builtin import ECHO
from plugins.core import PluginRegistry
from scheduler import Client, Settings, Submission
from scheduler.runtime import Runtime
from tests.helpers import RedisServer

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "20000"))


def echo_template() -> tasks_pb2.TaskTemplate:
    t = tasks_pb2.TaskTemplate(type="echo")
    var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.INTEGER))
    t.interface.inputs.variables["x"].CopyFrom(var)
    return t


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


def test_submission_throughput(redis_server: RedisServer, tmp_path: Path) -> None:
    settings = Settings(
        redis_url=redis_server.url,
        storage=f"file://{tmp_path}/storage",
        key_prefix=f"bench{uuid.uuid4().hex[:6]}",
    )
    registry = PluginRegistry()
    registry.register(ECHO)
    client = Client(runtime=Runtime(settings, registry=registry))
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
