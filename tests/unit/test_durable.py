"""A write-back that Redis refuses is tried again, with growing pauses, until it lands."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from redis.exceptions import OutOfMemoryError

from scheduler._steps.durable import durably


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def failing(times: int, error: Exception) -> tuple[list[int], object]:
    calls: list[int] = []

    def write() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "written"

    return calls, write


def test_it_tries_again_until_redis_takes_the_write() -> None:
    clock = Clock()
    calls, write = failing(8, redis.TimeoutError("stalled"))
    got = durably(write, "a Create", monotonic=clock.monotonic, sleep=clock.sleep)  # type: ignore[arg-type]
    assert got == "written"
    assert len(calls) == 9
    assert clock.pauses[:3] == [0.05, 0.1, 0.2]
    assert max(clock.pauses) == 1.0  # never longer than a second: it lands soon after


def test_a_full_redis_is_waited_for_too() -> None:
    clock = Clock()
    calls, write = failing(2, OutOfMemoryError("OOM command not allowed"))
    assert durably(write, "a Do", monotonic=clock.monotonic, sleep=clock.sleep) == "written"  # type: ignore[arg-type]
    assert len(calls) == 3


def test_it_gives_up_after_its_patience() -> None:
    clock = Clock()
    _, write = failing(10**6, redis.ConnectionError("gone"))
    with pytest.raises(redis.ConnectionError):
        durably(write, "a Create", patience=timedelta(seconds=30), monotonic=clock.monotonic,
                sleep=clock.sleep)  # type: ignore[arg-type]  # fmt: skip
    assert 29 <= clock.now <= 30


def test_other_errors_are_not_retried() -> None:
    clock = Clock()
    calls, write = failing(1, ValueError("a bad record"))
    with pytest.raises(ValueError, match="bad record"):
        durably(write, "a Create", monotonic=clock.monotonic, sleep=clock.sleep)  # type: ignore[arg-type]
    assert len(calls) == 1
