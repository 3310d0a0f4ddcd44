"""The beat scheduler with shards, in process on a private Redis: sharing and outages.

Two EngineScheduler objects stand for two beat processes (each has its own lease owners and
its own entry among the live beats): they split three shards, and one takes them all when
the other leaves. A tick that finds Redis away tells every engine, so that lapsed run leases
wait a lease for their workers when it is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler._engine.beat import EngineScheduler
from scheduler._runtime import runtime as runtime_module
from tests.helpers import RedisServer, wait_for

SHARDS = 3


@pytest.fixture
def beat_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    server = RedisServer.start(tmp_path)
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", server.url)
    monkeypatch.setenv("FLYTE_CELERY_KEY_PREFIX", f"b{uuid.uuid4().hex[:8]}")
    monkeypatch.setenv("FLYTE_CELERY_SHARDS", str(SHARDS))
    monkeypatch.setenv("FLYTE_CELERY_REDIS_SOCKET_TIMEOUT", "2")
    monkeypatch.setenv("FLYTE_CELERY_TICK_INTERVAL", "0.2")
    runtime_module._Process.runtime = None  # this test's settings, in this process
    try:
        yield server
    finally:
        if runtime_module._Process.runtime is not None:
            runtime_module._Process.runtime[1].close()
        runtime_module._Process.runtime = None
        server.stop()


def scheduler() -> EngineScheduler:
    from worker.app import app

    return EngineScheduler(app=app, lazy=True)


def led(beat: EngineScheduler) -> set[int]:
    return {shard for shard in range(SHARDS) if beat.engine(shard).leads}


def test_two_beats_split_the_shards_and_one_takes_all_when_the_other_leaves(
    beat_env: RedisServer,
) -> None:
    first, second = scheduler(), scheduler()
    first.tick()
    assert led(first) == {0, 1, 2}  # alone, it leads every shard

    def split() -> bool:
        first.tick()
        second.tick()
        return not led(first) & led(second) and led(first) | led(second) == {0, 1, 2}

    wait_for(lambda: split() and led(first) and led(second), timeout=30, what="a split")
    second.close()  # it leaves the live beats and gives its leases up
    wait_for(lambda: first.tick() == 0.0 and led(first) == {0, 1, 2}, timeout=30)
    first.close()


def test_a_tick_that_finds_redis_away_tells_every_engine(beat_env: RedisServer) -> None:
    beat = scheduler()
    beat.tick()
    assert led(beat) == {0, 1, 2}
    assert not any(beat.engine(s).upkeep._after_outage for s in range(SHARDS))
    beat_env.kill()
    beat.tick()  # fails on Redis before any engine ticks
    assert all(beat.engine(s).upkeep._after_outage for s in range(SHARDS))
    beat_env.start_again()
    beat.close()
