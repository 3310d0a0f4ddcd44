"""Python tasks: isolated runs against in-process runs, and flytekit's ``@task``, in one run.

One beat and one worker (prefork, concurrency 2), started again for each way of running
``@task def inc(x: int) -> int``:

- isolated, forked by the worker's task launcher (``FLYTE_CELERY_TASK_ISOLATION=process``
  and ``FLYTE_CELERY_TASK_LAUNCHER=fork``: the defaults);
- in process (``FLYTE_CELERY_TASK_ISOLATION=none``), the reference;
- isolated, spawned afresh (``FLYTE_CELERY_TASK_LAUNCHER=spawn``, the former way), on fewer
  tasks: it is slow.

For each: N executions (FLYTE_CELERY_BENCH_N, default 200) submitted at once with
``submit_many``, to the last one finished (tasks/s, the ratio to in-process, and the CPU
time all the deployment's processes spent per task, which other load on a shared machine
does not change), then executions one at a time, submit -> SUCCESS written (p50, p99).
Also flytekit's own ``@task`` (serialized as ``pyflyte register`` does, run through
``pyflyte-execute``) one at a time, forked and spawned, and the launchers' resident memory
(the ``@task`` launcher, and flytekit's, which has imported flytekit). Targets (issue 21):
isolated throughput >= 0.5x in-process, isolated p50 <= 50 ms, flytekit p50 <= 500 ms.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from plugins.core import Phase
from scheduler import Client, Submission
from scheduler._backend.keys import Keys
from tests.benchmarks.pytasks import inc
from tests.benchmarks.stacks import production_timings
from tests.flytekit import fktasks
from tests.flytekit.serialize import literals, template
from tests.helpers import RedisServer, parent_pid, wait_for
from tests.integration.stack import Stack

N = int(os.environ.get("FLYTE_CELERY_BENCH_N", "200"))
LATENCY_N = min(N, 100)  # p99 of 100 is not just the slowest one
SPAWN_N = min(N, 40)  # the former way runs a few tasks a second
SPAWN_LATENCY_N = 10
FLYTEKIT_N = 30
FLYTEKIT_SPAWN_N = 5
# python-task has Flyte's default write limiter (20 calls/s, bursts of 200): it would
# hold every phase after the first to 20 tasks/s. The figures are the runs' own.
UNLIMITED = {"python-task": {"writeRateLimiter": {"qps": 100000, "burst": 10000}}}
_TICK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _processes() -> dict[int, int]:
    """Every process's parent, by process id."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = parent_pid(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return parents


def _cpu(pid: int) -> float:
    """Seconds of CPU ``pid`` used, with its reaped children's (task processes)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / _TICK


def deployment_cpu(stack: Stack, redis_server: RedisServer) -> float:
    """CPU seconds used so far by Redis, beat, the worker, its pool processes and launchers."""
    parents = _processes()
    roots = [redis_server.process.pid, *(p.pid for p in stack.processes.values())]
    seen, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        seen.add(pid)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    # A process's own time, plus what its reaped children used: counted once each.
    return sum(_cpu(pid) for pid in seen)


@contextmanager
def worker(stack: Stack, name: str = "w1", **env: str) -> Iterator[None]:
    """One worker (-c 2) with these task settings, warmed up: plugins loaded, launchers ready."""
    stack.start_worker(name, concurrency=2, env=env)
    try:
        with stack.client() as api:
            for _ in range(4):  # both pool processes, most likely
                assert api.submit(inc, {"x": 1}).result(timeout=120) == 2
        yield
    finally:
        # A warm shutdown: a killed worker's prefetched jobs would wait out the visibility
        # timeout, and hold back the next worker's figures.
        process = stack.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        process.wait(120)


def throughput(
    api: Client, client: redis.Redis, count: int, cpu: Any = lambda: 0.0
) -> tuple[float, float]:
    """``count`` executions submitted at once, to the last one finished: (tasks/s, CPU s/task)."""
    finished = Keys(api.settings.key_prefix).index("finished")
    before = int(client.zcard(finished))
    used = cpu()
    start = time.perf_counter()
    executions = api.submit_many([Submission(inc, {"x": i}) for i in range(count)])
    wait_for(lambda: int(client.zcard(finished)) >= before + count, timeout=900, interval=0.02)
    rate = count / (time.perf_counter() - start)
    used = cpu() - used
    assert all(ex.refresh().phase is Phase.SUCCESS for ex in executions)
    return rate, used / count


def latencies(api: Client, task: Any, inputs: dict[str, Any], count: int) -> list[float]:
    """Executions one at a time: seconds from submit to their SUCCESS being written."""
    seen = []
    for _ in range(count):
        start = time.time()
        ex = api.submit(task, inputs)
        assert ex.wait(120) is Phase.SUCCESS, ex.error()
        seen.append(ex.refresh().record.updated_at.timestamp() - start)
    return seen


def launcher_rss(stack: Stack, name: str) -> dict[str, list[int]]:
    """The resident memory (KiB) of the worker's task launchers, by what they preloaded."""
    root = stack.processes[name].pid
    sizes: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            if b"plugins.builtin.launcher" not in (entry / "cmdline").read_bytes():
                continue
            if parent_pid(parent_pid(int(entry.name))) != root:  # -> pool process -> worker
                continue
            status = (entry / "status").read_text()
            environ = (entry / "environ").read_bytes()  # root reads it; others see "?"
            kind = "flytekit" if b"FLYTE_CELERY_TASK_PRELOAD=flytekit" in environ else "@task"
        except PermissionError:
            kind = "?"
        except (OSError, ValueError):
            continue
        sizes.setdefault(kind, []).append(int(status.split("VmRSS:")[1].split()[0]))
    return sizes


def test_python_task_throughput_and_latency(redis_server: RedisServer, tmp_path: Path) -> None:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    stack = Stack(
        redis_server.url, tmp_path, "http://unused", plugins="tests.benchmarks.noop:ENTRIES",
        overrides=production_timings(), plugin_sections=UNLIMITED,
    )  # fmt: skip
    flytekit_task = template(fktasks.double)
    rates: dict[str, tuple[float, float]] = {}
    lat: dict[str, list[float]] = {}
    rss: dict[str, list[int]] = {}

    def cpu() -> float:
        return deployment_cpu(stack, redis_server)

    try:
        stack.start_beat("beat")
        with stack.client() as api:
            with worker(stack, "forked"):
                rates["forked"] = throughput(api, client, N, cpu)
                lat["isolated, forked"] = latencies(api, inc, {"x": 1}, LATENCY_N)
                latencies(api, flytekit_task, literals(x=1), 2)  # its launcher starts
                lat["flytekit @task, forked"] = latencies(
                    api, flytekit_task, literals(x=1), FLYTEKIT_N
                )
                rss = launcher_rss(stack, "forked")
            with worker(stack, "in-process", FLYTE_CELERY_TASK_ISOLATION="none"):
                rates["in process"] = throughput(api, client, N, cpu)
                lat["in process"] = latencies(api, inc, {"x": 1}, LATENCY_N)
            with worker(stack, "spawned", FLYTE_CELERY_TASK_LAUNCHER="spawn"):
                rates["spawned"] = throughput(api, client, SPAWN_N, cpu)
                lat["isolated, spawned"] = latencies(api, inc, {"x": 1}, SPAWN_LATENCY_N)
                lat["flytekit @task, spawned"] = latencies(
                    api, flytekit_task, literals(x=1), FLYTEKIT_SPAWN_N
                )
    finally:
        stack.stop()
        client.close()

    reference, reference_cpu = rates["in process"]
    print("\nPython tasks, `inc`, through beat + 1 worker (prefork -c 2):")
    print(f"  submitted at once ({N}; spawned: {SPAWN_N}), to the last one finished:")
    for label, key in (("isolated, forked (default)", "forked"), ("in process", "in process"),
                       ("isolated, spawned (former)", "spawned")):  # fmt: skip
        rate, used = rates[key]
        print(f"    {label:27} {rate:7.1f} tasks/s  {rate / reference:5.2f}x in process;"
              f"  CPU {used * 1000:6.1f} ms/task ({reference_cpu / used:4.2f}x)")  # fmt: skip
    print("  one at a time, submit -> SUCCESS written:")
    for label, values in lat.items():
        print(f"    {label:27} p50 {statistics.median(values) * 1000:7.1f} ms"
              f"  p99 {pct(values, 0.99) * 1000:7.1f} ms  ({len(values)} runs)")  # fmt: skip
    for kind, sizes in sorted(rss.items()):
        shown = ", ".join(f"{size / 1024:.0f} MiB" for size in sorted(sizes))
        print(f"  {kind} task launchers' resident memory: {shown}")
    print("  targets: isolated >= 0.50x in process; isolated p50 <= 50 ms; flytekit p50 <= 500 ms")
