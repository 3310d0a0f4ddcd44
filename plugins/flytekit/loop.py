"""One persistent event loop per process, on a thread of its own, for connector calls.

Connectors keep async clients at module level (flytekit's webhook keeps an
``httpx.AsyncClient``): calling them from a new loop each time (``asyncio.run``) fails
on the second call with ``Event loop is closed``. So every async connector call of a
process runs on this one loop, made on first use and again after a fork.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["run_on_loop"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_pid = 0


def _the_loop() -> asyncio.AbstractEventLoop:
    global _loop, _pid
    with _lock:
        if _loop is None or _pid != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="connector-loop", daemon=True).start()
            _loop, _pid = loop, os.getpid()
        return _loop


def run_on_loop(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on the process's loop and wait for its result.

    Raises:
        TimeoutError: It did not finish within ``timeout`` seconds (it is cancelled).
        Exception: Whatever the coroutine raised.
    """
    future = asyncio.run_coroutine_threadsafe(coroutine, _the_loop())
    try:
        return future.result(timeout)
    except BaseException:
        future.cancel()  # cut off (a time limit, a timeout): do not leave it running
        raise
