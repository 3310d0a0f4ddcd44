"""The API server's tokens, and how many sign-ins failed from each address.

A token is shown once, when it is made; Redis keeps only its SHA-256 (a token is 256
random bits, so a plain digest is as strong as a slow hash would be), with the token's
name, its grants and when it was made. Revoking deletes the entry: the next call with
the token is refused.

Failed sign-ins (an unknown token, a wrong password) are counted per address for a
minute; past the limit, the address is refused until the minute is over.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from redis import Redis

from plugins.errors import ConfigError
from scheduler._backend.keys import Keys
from scheduler._model import Caller, Grant, parse_grants

__all__ = ["TOKEN_PREFIX", "ApiTokens", "SigninFailures", "TokenInfo"]

TOKEN_PREFIX = "fct_"
"""How every token starts, so a leaked one is recognisable (and secret scanners find it)."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """What is kept of a token: never the token itself.

    Attributes:
        name: Its name (unique), which the audit trail records as who acted.
        grants: What it may do.
        created_at: When it was made.
    """

    name: str
    grants: tuple[Grant, ...]
    created_at: datetime

    def caller(self) -> Caller:
        """The caller this token signs in as."""
        return Caller(self.name, self.grants, via="token")

    def _dump(self) -> str:
        return json.dumps(
            {
                "name": self.name,
                "grants": [str(g) for g in self.grants],
                "created_at": self.created_at.isoformat(),
            }
        )

    @classmethod
    def _load(cls, raw: bytes | str) -> TokenInfo:
        data = json.loads(raw)
        return cls(
            data["name"], parse_grants(data["grants"]), datetime.fromisoformat(data["created_at"])
        )


class ApiTokens:
    """Make, list, revoke and look up API tokens.

    Args:
        redis_client: The deployment's Redis.
        keys: Its key names.
    """

    def __init__(self, redis_client: Redis, keys: Keys) -> None:
        self._redis = redis_client
        self._key = keys.api_tokens
        self._names = keys.api_token_names

    def create(self, name: str, grants: tuple[Grant, ...], now: datetime) -> tuple[str, TokenInfo]:
        """Make a token named ``name`` with ``grants``.

        Returns:
            The token (shown once: only its digest is kept) and what is kept of it.

        Raises:
            ConfigError: The name is empty or taken, or there are no grants.
        """
        if not name.strip():
            raise ConfigError("a token needs a name")
        if not grants:
            raise ConfigError(f"token {name!r}: give it at least one grant (role@project)")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        info = TokenInfo(name, grants, now)
        digest = _digest(token)
        # The name is taken atomically: two makers of one name cannot both succeed.
        if not self._redis.hsetnx(self._names, name, digest):
            raise ConfigError(f"a token named {name!r} exists; revoke it first")
        self._redis.hset(self._key, digest, info._dump())
        return token, info

    def list(self) -> list[TokenInfo]:
        """Every token's name, grants and age, by name."""
        found = [_loaded(v) for v in self._redis.hvals(self._key)]
        return sorted((info for info in found if info is not None), key=lambda i: i.name)

    def revoke(self, name: str) -> bool:
        """Revoke the token named ``name``; whether there was one."""
        digest = self._redis.hget(self._names, name)
        if digest is None:
            return False
        # Not a transaction: the two hashes are two Redis Cluster slots. The token goes
        # first; a name left behind (a failure between) is revoked again by the same call.
        pipe = self._redis.pipeline(transaction=False)
        pipe.hdel(self._key, digest)
        pipe.hdel(self._names, name)
        pipe.execute()
        return True

    def lookup(self, token: str) -> TokenInfo | None:
        """The token's entry; ``None`` for a token never made, revoked, or unreadable."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        raw = self._redis.hget(self._key, _digest(token))
        return None if raw is None else _loaded(raw)


def _loaded(raw: bytes | str) -> TokenInfo | None:
    try:
        return TokenInfo._load(raw)
    except (ValueError, KeyError, TypeError):
        return None  # a damaged entry lets no one in


class SigninFailures:
    """Failed sign-ins per address, for a minute, and whether an address is over the limit.

    Args:
        redis_client: The deployment's Redis.
        keys: Its key names.
        limit: The most failures an address may have in a window.
        window: How long failures count.
    """

    def __init__(
        self,
        redis_client: Redis,
        keys: Keys,
        limit: int = 10,
        window: timedelta = timedelta(minutes=1),
    ) -> None:
        self._redis = redis_client
        self._keys = keys
        self.limit = limit
        self.window = window

    def blocked(self, who: str) -> bool:
        """Whether ``who`` failed more than the limit within the window."""
        count = self._redis.get(self._keys.signin_failures(who))
        return count is not None and int(count) >= self.limit

    def failed(self, who: str) -> None:
        """Count a failure of ``who``; the count lapses a window after the first."""
        key = self._keys.signin_failures(who)
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, int(self.window.total_seconds()), nx=True)
        pipe.execute()
