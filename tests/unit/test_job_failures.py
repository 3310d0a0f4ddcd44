"""What a job reports to Celery and Flower: its label, and the failures it ran into."""

from __future__ import annotations

import asyncio

import pytest

from plugins.webapi import call_async, call_sync
from scheduler.metrics import job_failures, note_failure, plugin_call


def test_failures_are_collected_from_calls_in_threads_and_tasks() -> None:
    def blocking() -> None:
        raise ValueError("remote said no")

    async def one(name: str) -> None:
        with plugin_call("plug", "get", name):
            await call_async(blocking)

    async def batch() -> None:
        results = await asyncio.gather(one("p/d/a"), one("p/d/b"), return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)

    with job_failures() as failures:
        call_sync(batch)
        note_failure("p/d/c: PERMANENT_FAILURE: the remote job failed")
        with pytest.raises(KeyError), plugin_call("plug", "create"):
            raise KeyError("k")
    assert sorted(failures[:2]) == [
        "p/d/a: get raised ValueError: remote said no",
        "p/d/b: get raised ValueError: remote said no",
    ]
    assert failures[2:] == [
        "p/d/c: PERMANENT_FAILURE: the remote job failed",
        "plug: create raised KeyError: 'k'",
    ]
    note_failure("outside any job: dropped")  # nothing collects it, nothing breaks
