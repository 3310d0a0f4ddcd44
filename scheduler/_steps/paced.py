"""Starting a batch of plugin calls as a global rate limiter grants them.

The limiter is asked for the whole rest of the batch at once (one round trip), not once
per call. Whatever stops the pacing (Redis away at the limiter, Celery's soft time limit),
the calls already started run to their end: each holds a remote answer (a Create's handle,
a Get's phase) that its step must write back rather than drop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from scheduler._backend import RedisRateLimiter

__all__ = ["paced"]


async def paced(
    limiter: RedisRateLimiter, calls: Sequence[Callable[[], Coroutine[Any, Any, None]]]
) -> None:
    """Run ``calls`` concurrently, each started when the limiter grants it.

    Each call keeps its own result (in a list of its step's). Returns when every call
    has ended.

    Raises:
        Exception: What stopped the pacing, once the calls it had started have ended
            (those not started never run).
    """
    started: list[asyncio.Task[None]] = []
    try:
        while len(started) < len(calls):
            granted, wait = limiter.take(len(calls) - len(started))
            for call in calls[len(started) : len(started) + granted]:
                started.append(asyncio.ensure_future(call()))
            if len(started) < len(calls):
                pause = max(wait.total_seconds(), 0.001)
                limiter.waited(pause)
                await asyncio.sleep(pause)
    finally:
        await asyncio.gather(*started)
