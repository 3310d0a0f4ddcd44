"""Where one process runs plugin calls: one event loop, a thread pool, and how many at once.

Plugin authors write each method as ``async def`` or as a plain ``def`` that blocks (an
HTTP call through ``requests``, a cloud SDK). A worker process runs both kinds here:

- ``async def`` methods on the process's one event loop, on a thread of its own (made on
  first use, and again after a fork). The loop outlives jobs, so an async client a plugin
  keeps (an ``aiohttp`` session, an ``httpx.AsyncClient``) serves every job of the process
  with pooled connections.
- plain methods on the process's thread pool, which is sized for remote calls, not for
  CPU: up to ``FLYTE_CELERY_CALL_CONCURRENCY`` threads, made as calls need them. A
  blocking call holds a thread, never the loop.
- Each plugin runs at most ``caching.workers`` calls at once in a process (Flyte's polling
  concurrency), and the process at most ``call_concurrency``; a call waits for both slots.
  A call on a thread keeps its slots until it returns, even when its job gave up on it
  (a time limit): a hung plugin uses up its own slots, never another plugin's.

The gauges ``flyte_celery_plugin_calls_running`` and ``..._waiting`` show, per plugin,
the calls that hold a slot and those waiting for one: a plugin whose calls keep waiting
is saturated (raise its ``caching.workers``, or add workers).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from plugins.errors import PluginError
from scheduler._runtime.threads import BlockingCalls
from scheduler.metrics import PLUGIN_CALLS_RUNNING, PLUGIN_CALLS_WAITING, plugin_call

__all__ = ["CallSite", "PluginCalls"]

T = TypeVar("T")

_CANCEL_GRACE = 5.0
"""Seconds a job that was cut off waits for its calls on the loop to unwind (they stop at
their next ``await``; calls on threads are left to finish on their own)."""


@dataclass(frozen=True)
class CallSite:
    """Who makes a plugin call, and for what.

    Attributes:
        plugin: The plugin id (its slots and metrics).
        workers: The plugin's ``caching.workers``: its calls at once in this process.
        operation: ``create``, ``get``, ``delete``, ``do``... (metrics, failure notes).
        subject: The execution the call serves (named when it fails).
    """

    plugin: str
    workers: int
    operation: str
    subject: str = ""


class _Slots:
    """One plugin's slots, and the process-wide ones it also takes (on the loop only)."""

    def __init__(self, plugin: str, workers: int, process: asyncio.Semaphore) -> None:
        self.plugin = plugin
        self.workers = workers
        self._own = asyncio.Semaphore(workers)
        self._process = process
        self._running = PLUGIN_CALLS_RUNNING.labels(plugin)
        self._waiting = PLUGIN_CALLS_WAITING.labels(plugin)

    async def acquire(self) -> None:
        if self._own.locked() or self._process.locked():
            self._waiting.inc()
            try:
                await self._take()
            finally:
                self._waiting.dec()
        else:
            await self._take()
        self._running.inc()

    async def _take(self) -> None:
        await self._own.acquire()
        try:
            await self._process.acquire()
        except BaseException:
            self._own.release()
            raise

    def release(self) -> None:
        self._running.dec()
        self._process.release()
        self._own.release()


class PluginCalls:
    """Runs one process's plugin calls (see the module's docstring).

    Args:
        concurrency: The most calls of all plugins that run at once in the process, and
            the most threads its pool makes for blocking ones.
    """

    def __init__(self, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError(f"call concurrency must be at least 1, not {concurrency}")
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._pid = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._blocking: BlockingCalls | None = None
        self._process: asyncio.Semaphore | None = None
        self._slots: dict[str, _Slots] = {}

    def _started(self) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
        """The loop and its thread, made now if this process has none (a fork has none)."""
        with self._lock:
            if self._loop is None or self._thread is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="plugin-calls", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
                self._blocking = BlockingCalls(loop, self.concurrency, _as_error)
                self._process = asyncio.Semaphore(self.concurrency)
                self._slots = {}
            return self._loop, self._thread

    def _slots_of(self, plugin: str, workers: int) -> _Slots:
        # Only ever called on the loop's thread: no lock needed for the dict.
        slots = self._slots.get(plugin)
        if slots is None or slots.workers != workers:
            assert self._process is not None
            slots = self._slots[plugin] = _Slots(plugin, workers, self._process)
        return slots

    # -- from a job's thread ---------------------------------------------------------------------

    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``work()`` on the process's loop and wait for its result, in this thread.

        The coroutine sees this thread's context variables (the job it serves). If the
        wait is cut off (Celery's soft time limit raises here), the coroutine is cancelled
        and given a moment to unwind before the exception goes on.

        Raises:
            RuntimeError: Called on the loop's own thread (it would wait for itself).
            Exception: Whatever the coroutine raised.
        """
        loop, thread = self._started()
        if threading.current_thread() is thread:
            raise RuntimeError("PluginCalls.run called from its own event loop; await instead")
        context = contextvars.copy_context()
        done = threading.Event()
        started: list[asyncio.Task[T]] = []

        def start() -> None:
            task = loop.create_task(work(), context=context)
            task.add_done_callback(lambda _: done.set())
            started.append(task)

        loop.call_soon_threadsafe(start)
        try:
            while not done.wait(1.0):
                if not thread.is_alive():
                    raise RuntimeError("the plugin-call loop of this process has stopped")
        except BaseException:
            loop.call_soon_threadsafe(lambda: started[0].cancel())  # noqa: PLW0108 - not yet started
            done.wait(_CANCEL_GRACE)
            raise
        return started[0].result()

    def local(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A cheap call from a job's thread (Status, a core plugin's round), without slots.

        A plain method runs in this thread; an ``async def`` one on the loop, so that the
        clients it keeps live as long as the process, not as one call.
        """
        if inspect.iscoroutinefunction(fn):
            return self.run(lambda: _awaited(fn(*args)))
        result = fn(*args)
        if inspect.isawaitable(result):
            awaitable = result
            return self.run(lambda: _awaited(awaitable))
        return result

    def call_here(self, site: CallSite, fn: Callable[..., Any], *args: Any) -> Any:
        """One call from a job's thread: a plain method runs in this thread, under its slots.

        A plain method is not moved to the pool here: the thread would only wait for it,
        and a time limit must interrupt the call itself (a task process is then stopped).
        An ``async def`` method runs on the loop, as :meth:`call` runs it.
        """
        if inspect.iscoroutinefunction(fn):
            return self.run(lambda: self.call(site, fn, *args))

        async def take() -> _Slots:
            slots = self._slots_of(site.plugin, site.workers)
            await slots.acquire()
            return slots

        slots = self.run(take)
        loop, _ = self._started()
        try:
            with plugin_call(site.plugin, site.operation, site.subject):
                result = fn(*args)
                if inspect.isawaitable(result):
                    awaitable = result
                    return self.run(lambda: _awaited(awaitable))
                return result
        finally:
            loop.call_soon_threadsafe(slots.release)

    # -- on the loop -----------------------------------------------------------------------------

    async def call(self, site: CallSite, fn: Callable[..., Any], *args: Any) -> Any:
        """One plugin call, under its slots: awaited here, or on a thread if it blocks.

        Args:
            site: The plugin, its ``caching.workers``, the operation and its execution.
            fn: The plugin's method.
            *args: Its arguments.
        """
        slots = self._slots_of(site.plugin, site.workers)
        await slots.acquire()
        if inspect.iscoroutinefunction(fn):
            try:
                with plugin_call(site.plugin, site.operation, site.subject):
                    return await fn(*args)
            finally:
                slots.release()
        assert self._blocking is not None
        try:
            settled = self._blocking.submit(fn, args, slots.release)
        except BaseException:
            slots.release()
            raise
        with plugin_call(site.plugin, site.operation, site.subject):
            result = await settled
            if inspect.isawaitable(result):
                return await result
            return result


def _as_error(exc: BaseException) -> BaseException:
    """A plugin's ``SystemExit`` on a pool thread fails its call, not the worker's job."""
    if isinstance(exc, Exception):
        return exc
    return PluginError(f"the plugin raised {type(exc).__name__}: {exc}")


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
