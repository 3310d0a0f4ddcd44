"""Lua scripts shipped beside this module, registered once per Redis client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from importlib.resources import files
from typing import Any

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

__all__ = ["EPOCH", "ScriptBatch", "decode", "load_script", "to_ms", "to_us"]

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


class ScriptBatch:
    """Script calls sent in one round trip (a pipeline that is not a transaction).

    A Redis Cluster pipeline does not load a script a node lacks (a master promoted by a
    failover, restarted, or flushed): that call answers NOSCRIPT having done nothing, so
    it alone is run again, which loads the script. The other calls ran once.

    Args:
        client: The deployment's Redis (or Redis Cluster) client.
    """

    def __init__(self, client: Redis) -> None:
        self._pipe = client.pipeline(transaction=False)
        self._calls: list[tuple[Script, list[Any], list[Any]]] = []

    def add(self, script: Script, keys: list[Any], args: list[Any]) -> None:
        """Queue one call of ``script``."""
        script(keys=keys, args=args, client=self._pipe)
        self._calls.append((script, keys, args))

    def execute(self) -> list[Any]:
        """Each call's reply, in order.

        Raises:
            redis.RedisError: The first call that failed, once every call was answered.
        """
        replies = self._pipe.execute(raise_on_error=False)
        answers = []
        for (script, keys, args), reply in zip(self._calls, replies, strict=True):
            if isinstance(reply, NoScriptError):
                answers.append(script(keys=keys, args=args))
            elif isinstance(reply, Exception):
                raise reply
            else:
                answers.append(reply)
        return answers
