"""Lua scripts shipped beside this module, registered once per Redis client."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.commands.core import Script

__all__ = ["decode", "load_script"]


@cache
def _source(name: str) -> str:
    return (files("scheduler.backend") / "lua" / f"{name}.lua").read_text()


def load_script(client: Redis, name: str) -> Script:
    """The script ``lua/<name>.lua`` beside this module, bound to ``client`` (EVALSHA)."""
    return client.register_script(_source(name))


def decode(value: Any) -> str:
    """Redis replies as ``str``, whether or not the client decodes responses."""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)
