"""Lua scripts shipped beside this module, registered once per Redis client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.commands.core import Script

__all__ = ["EPOCH", "decode", "load_script", "to_ms", "to_us"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The epoch, aware (UTC)."""


@cache
def _source(name: str) -> str:
    return (files("scheduler._backend") / "lua" / f"{name}.lua").read_text()


def to_ms(when: datetime) -> int:
    """``when`` as milliseconds since the epoch, as the scripts store times."""
    return int(when.timestamp() * 1000)


def to_us(when: datetime) -> int:
    """``when`` as whole microseconds since the epoch (exact), as records store times."""
    return (when - EPOCH) // timedelta(microseconds=1)


def load_script(client: Redis, name: str) -> Script:
    """The script ``lua/<name>.lua`` beside this module, bound to ``client`` (EVALSHA)."""
    return client.register_script(_source(name))


def decode(value: Any) -> str:
    """Redis replies as ``str``, whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
