"""PluginCalls: one event loop and a thread pool per process, ``caching.workers`` per plugin.

Concurrency is observed, not timed: each test's plugin counts the calls in flight and
holds them until the test lets them go, so the most that ever ran at once is exact.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import REGISTRY

from plugins.errors import PluginError
from scheduler._runtime import CallSite, PluginCalls
from scheduler.metrics import job_failures
from tests.helpers import wait_for


class Held:
    """Calls that count themselves in flight and wait until released."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.done = 0
        self.release = threading.Event()

    def _enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def _leave(self) -> None:
        with self.lock:
            self.now -= 1
            self.done += 1

    def blocking(self, value: int) -> int:
        self._enter()
        try:
            if not self.release.wait(60):
                raise TimeoutError("never released")
            return value
        finally:
            self._leave()

    async def waiting(self, value: int) -> int:
        self._enter()
        try:
            while not self.release.is_set():
                await asyncio.sleep(0.005)
            return value
        finally:
            self._leave()


def gauge(name: str, plugin: str) -> float:
    return REGISTRY.get_sample_value(f"flyte_celery_plugin_calls_{name}", {"plugin": plugin}) or 0.0


@pytest.fixture
def calls() -> PluginCalls:
    return PluginCalls(concurrency=100)


@pytest.fixture
def held() -> Iterator[Held]:
    made = Held()
    yield made
    made.release.set()  # a failed test leaves no call waiting


def run_in_background(calls: PluginCalls, work: Any) -> tuple[threading.Thread, list[Any]]:
    """``calls.run(work)`` on a thread (as a job would); its result or error lands in the list."""
    out: list[Any] = []

    def job() -> None:
        try:
            out.append(calls.run(work))
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    return thread, out


def batch(calls: PluginCalls, plugin: str, workers: int, fn: Any, n: int) -> Any:
    async def work() -> list[Any]:
        return list(
            await asyncio.gather(
                *(calls.call(CallSite(plugin, workers, "get", "x"), fn, i) for i in range(n))
            )
        )

    return work


@pytest.mark.parametrize("kind", ["blocking", "waiting"])
def test_a_plugin_runs_at_most_its_workers_calls_at_once(
    calls: PluginCalls, held: Held, kind: str
) -> None:
    plugin = f"p-{kind}"
    thread, out = run_in_background(calls, batch(calls, plugin, 8, getattr(held, kind), 30))
    wait_for(lambda: held.now == 8 and gauge("waiting", plugin) == 22, timeout=30)
    assert gauge("running", plugin) == 8
    held.release.set()
    thread.join(60)
    assert out == [list(range(30))]
    assert held.most == 8
    assert gauge("running", plugin) == 0 and gauge("waiting", plugin) == 0


def test_blocking_calls_run_on_threads_many_at_once(calls: PluginCalls, held: Held) -> None:
    # Far more than the loop's default executor (min(32, cpus + 4) threads).
    thread, out = run_in_background(calls, batch(calls, "many", 80, held.blocking, 80))
    wait_for(lambda: held.now == 80, timeout=30)
    held.release.set()
    thread.join(60)
    assert out == [list(range(80))]


def test_the_process_cap_holds_across_plugins(held: Held) -> None:
    calls = PluginCalls(concurrency=5)

    async def work() -> list[Any]:
        return list(
            await asyncio.gather(
                *(calls.call(CallSite("a", 4, "get", "x"), held.blocking, i) for i in range(6)),
                *(calls.call(CallSite("b", 4, "get", "x"), held.waiting, i) for i in range(6)),
            )
        )

    thread, out = run_in_background(calls, work)
    wait_for(
        lambda: held.now == 5 and gauge("waiting", "a") + gauge("waiting", "b") == 7, timeout=30
    )
    held.release.set()
    thread.join(60)
    assert out == [[*range(6), *range(6)]]
    assert held.most == 5


def test_a_call_the_job_gave_up_on_keeps_its_slot_until_its_thread_returns(
    calls: PluginCalls, held: Held
) -> None:

    async def give_up() -> Any:
        call = calls.call(CallSite("slow", 1, "get", "x"), held.blocking, 1)
        return await asyncio.wait_for(call, timeout=0.2)

    with pytest.raises(TimeoutError):
        calls.run(give_up)
    # The thread still runs the call: the plugin's one slot is taken, so the next waits.
    assert held.now == 1 and gauge("running", "slow") == 1
    thread, out = run_in_background(calls, batch(calls, "slow", 1, held.blocking, 1))
    wait_for(lambda: gauge("waiting", "slow") == 1, timeout=30)
    held.release.set()
    thread.join(60)
    assert out == [[0]]
    assert held.most == 1


def test_failures_reach_the_job_that_made_the_calls(calls: PluginCalls) -> None:
    def broken(value: int) -> int:
        raise ConnectionError(f"service down for {value}")

    async def boom(value: int) -> int:
        raise ValueError(f"bad {value}")

    async def work() -> list[Any]:
        return list(
            await asyncio.gather(
                calls.call(CallSite("p", 10, "get", "exec-1"), broken, 1),
                calls.call(CallSite("p", 10, "get", "exec-2"), boom, 2),
                return_exceptions=True,
            )
        )

    with job_failures() as failures:
        got = calls.run(work)
    assert [type(e) for e in got] == [ConnectionError, ValueError]
    assert sorted(failures) == [
        "exec-1: get raised ConnectionError: service down for 1",
        "exec-2: get raised ValueError: bad 2",
    ]


def test_a_system_exit_in_a_blocking_call_fails_that_call_only(
    calls: PluginCalls, held: Held
) -> None:
    def leaving(value: int) -> int:
        raise SystemExit(3)

    with pytest.raises(PluginError, match="raised SystemExit"):
        calls.run(batch(calls, "exit", 2, leaving, 1))
    held.release.set()
    assert calls.run(batch(calls, "exit", 2, held.blocking, 3)) == [0, 1, 2]


def test_async_methods_run_on_one_loop_that_outlives_jobs(calls: PluginCalls) -> None:
    # So an async client a plugin keeps (an aiohttp session) serves every job.
    async def loop_of(_: int) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    first = calls.run(batch(calls, "p", 10, loop_of, 2))
    second = calls.run(batch(calls, "p", 10, loop_of, 1))
    assert len({id(loop) for loop in [*first, *second]}) == 1


def test_call_here_runs_a_plain_method_in_the_callers_thread_under_its_slot(
    calls: PluginCalls, held: Held
) -> None:
    seen: list[int] = []

    def do(value: int) -> int:
        seen.append(threading.get_ident())
        return held.blocking(value)

    caller, out = [], []

    def job() -> None:
        caller.append(threading.get_ident())
        out.append(calls.call_here(CallSite("one", 1, "do", "x"), do, 7))

    thread = threading.Thread(target=job)
    thread.start()
    wait_for(lambda: held.now == 1, timeout=30)
    other, other_out = run_in_background(calls, batch(calls, "one", 1, held.blocking, 1))
    wait_for(lambda: gauge("waiting", "one") == 1, timeout=30)  # the slot is the do's
    held.release.set()
    thread.join(60)
    other.join(60)
    assert out == [7] and other_out == [[0]]
    assert seen == caller


def test_run_refuses_to_wait_on_its_own_loop(calls: PluginCalls) -> None:
    async def nested(_: int) -> Any:
        return calls.run(batch(calls, "p", 1, lambda v: v, 1))

    with pytest.raises(RuntimeError, match="own event loop"):
        calls.run(batch(calls, "outer", 1, nested, 1))


def _in_child(calls: PluginCalls, conn: Any) -> None:
    conn.send(calls.run(batch(calls, "p", 4, lambda v: v * 2, 3)))


def test_a_forked_process_gets_its_own_loop_and_threads(calls: PluginCalls) -> None:
    assert calls.run(batch(calls, "p", 4, lambda v: v, 2)) == [0, 1]  # started here first
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_in_child, args=(calls, child))
    process.start()
    assert parent.poll(60), "the forked process never answered"
    assert parent.recv() == [0, 2, 4]
    process.join(30)
    assert process.exitcode == 0


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PluginCalls(concurrency=0)
