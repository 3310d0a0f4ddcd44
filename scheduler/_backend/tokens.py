"""Who holds each quota token: the owner notes behind renewal and leak repair.

A quota token is an attempt's generated name. Before allocating one, the
scheduler notes which execution it is for; the note goes when the token is
released. Each renewal round the scheduler reads the notes of every holder: a
token whose execution is gone, finished or on another attempt is an orphan and
is released, so no token leaks even if a write-back was lost.
"""

from __future__ import annotations

from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.quota import RedisResourceManager
from scheduler._backend.scripts import decode

__all__ = ["TokenLedger"]


class TokenLedger:
    """Quota tokens and the notes of their owners.

    Args:
        redis_client: The deployment's Redis.
        keys: The deployment's key names.
        quotas: The resource manager that grants the tokens.
    """

    def __init__(self, redis_client: Redis, keys: Keys, quotas: RedisResourceManager) -> None:
        self._redis = redis_client
        self._key = keys.tokens
        self.quotas = quotas

    def note(self, token: str, execution_id: str) -> None:
        """Remember that ``token`` belongs to ``execution_id`` (before allocating it)."""
        self._redis.hset(self._key, token, execution_id)

    def forget(self, token: str) -> None:
        """Drop the note of a token that was not granted."""
        self._redis.hdel(self._key, token)

    def owners(self, tokens: list[str]) -> list[str | None]:
        """The execution each token belongs to, if known."""
        if not tokens:
            return []
        values = self._redis.hmget(self._key, tokens)
        return [None if v is None else decode(v) for v in values]

    def release(self, namespace: str, token: str) -> None:
        """Give ``token`` back to ``namespace`` and drop its note (idempotent)."""
        self.quotas.release_resource(namespace, token)
        self._redis.hdel(self._key, token)
