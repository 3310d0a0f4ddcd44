"""The threads that run blocking plugin methods, and the way back to the event loop.

A plain ``def`` method that waits on a remote service holds a thread for the whole call.
A worker process may run hundreds of them at once, so each call must cost little besides
its wait. ``concurrent.futures.ThreadPoolExecutor`` with ``asyncio.wrap_future`` costs two
futures, a condition variable and two wake-ups of the loop per call; measured with 600
calls of 50 ms at once on a 2-core machine, that is about half the process's CPU. Here a
call is a closure on a queue, taken by a thread made when none is idle (up to a limit);
its result goes back on a list that wakes the loop once for whatever has come back since
the loop last looked.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BlockingCalls"]

_Settled = tuple["asyncio.Future[Any]", Any, BaseException | None, Callable[[], None]]


class _Returns:
    """Results coming back from threads, handed to the loop in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._items: collections.deque[_Settled] = collections.deque()
        self._scheduled = False

    def put(self, item: _Settled) -> None:
        """From a thread: queue a result; wake the loop unless a wake-up is pending."""
        with self._lock:
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._lock:
            items = list(self._items)
            self._items.clear()
            self._scheduled = False
        for settled, result, error, after in items:
            after()
            if settled.cancelled():
                continue  # the job gave up on this call; its slots are free again now
            if error is not None:
                settled.set_exception(error)
            else:
                settled.set_result(result)


class BlockingCalls:
    """Runs blocking callables on threads for one event loop (of one process).

    Args:
        loop: The loop that awaits the results.
        limit: The most threads; more calls than that wait on the queue.
        wrap: Turns what a call raised into what its awaiter gets (a ``SystemExit``
            from plugin code must fail the call, not the thread).
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        limit: int,
        wrap: Callable[[BaseException], BaseException],
    ) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._returns = _Returns(loop)
        self._limit = limit
        self._wrap = wrap
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = threading.Semaphore(0)

    def submit(
        self, fn: Callable[..., Any], args: tuple[Any, ...], after: Callable[[], None]
    ) -> asyncio.Future[Any]:
        """On the loop: run ``fn(*args)`` on a thread, in the caller's context.

        ``after`` runs on the loop once the thread is done with the call, before the
        result is set, and also when the awaiter gave up on it.

        Returns:
            A future of the loop with the result.
        """
        settled: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()
        returns, wrap = self._returns, self._wrap

        def work() -> None:
            try:
                result = context.run(fn, *args)
            except BaseException as exc:
                returns.put((settled, None, wrap(exc), after))
            else:
                returns.put((settled, result, None, after))

        self._queue.put(work)
        self._start_if_needed()
        return settled

    def _start_if_needed(self) -> None:
        if self._idle.acquire(blocking=False):
            return  # an idle thread takes it
        with self._lock:
            if self._threads >= self._limit:
                return
            self._threads += 1
            number = self._threads
        threading.Thread(target=self._serve, name=f"plugin-call-{number}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._queue.get()()
            self._idle.release()
