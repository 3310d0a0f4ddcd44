"""Who may act from the console: users and passwords, as Flower's ``--basic-auth`` takes them.

``FLYTE_CELERY_CONSOLE_USERS`` is ``name:password[,name:password...]``. Without it
the console is read-only: everyone may look, nobody may abort or signal.

``FLYTE_CELERY_CONSOLE_GRANTS`` says what each user may act on, as API tokens' grants do:
``name=grant grant;name=grant`` (``alice=submitter@ml viewer@web;ops=admin@*``). A user it
leaves out may act on nothing. Without it, every user may act on every project (one team).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from plugins.errors import ConfigError
from scheduler._model import ANY, Caller, Grant, Role, parse_grants

__all__ = ["Users", "parse_user_grants"]

_EVERYTHING = (Grant(Role.ADMIN, ANY, ANY),)


@dataclass(frozen=True)
class Users:
    """The console's users and their passwords.

    Attributes:
        passwords: Each user's password.
    """

    passwords: dict[str, str] = field(default_factory=dict, repr=False)
    grants: dict[str, tuple[Grant, ...]] | None = None

    @classmethod
    def parse(cls, text: str | None) -> Users:
        """Read ``name:password[,name:password...]`` (empty or ``None``: no users).

        Raises:
            ConfigError: An entry has no name or no password; the message names the
                entry by its position, never the password.
        """
        passwords: dict[str, str] = {}
        for index, entry in enumerate((text or "").split(","), start=1):
            if not entry.strip():
                continue
            name, sep, password = entry.strip().partition(":")
            if not sep or not name or not password:
                raise ConfigError(f"FLYTE_CELERY_CONSOLE_USERS: entry {index} is not name:password")
            passwords[name] = password
        return cls(passwords)

    def caller(self, name: str) -> Caller:
        """The signed-in user ``name`` as a caller: its grants (every project without any)."""
        grants = _EVERYTHING if self.grants is None else self.grants.get(name, ())
        return Caller(name, grants, via="user")

    def __bool__(self) -> bool:
        return bool(self.passwords)

    def check(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s (compared in constant time)."""
        expected = self.passwords.get(name)
        # Digests of equal length, compared even for an unknown name: the time taken tells
        # neither which names exist nor how long a password is.
        given = hashlib.sha256(password.encode()).digest()
        ok = hmac.compare_digest(given, hashlib.sha256((expected or "\0").encode()).digest())
        return expected is not None and ok


def parse_user_grants(text: str | None) -> dict[str, tuple[Grant, ...]] | None:
    """Read ``name=grant grant;name=grant`` (empty or ``None``: no per-user grants).

    Raises:
        ConfigError: An entry is not ``name=grants``, or a grant is malformed; the message
            names the variable and the entry.
    """
    if not (text or "").strip():
        return None
    found: dict[str, tuple[Grant, ...]] = {}
    for entry in (text or "").split(";"):
        if not entry.strip():
            continue
        name, sep, grants = entry.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"FLYTE_CELERY_CONSOLE_GRANTS: {entry.strip()!r} is not name=grants")
        try:
            found[name.strip()] = parse_grants(grants.split())
        except ConfigError as exc:
            raise ConfigError(f"FLYTE_CELERY_CONSOLE_GRANTS: {name.strip()}: {exc}") from None
    return found
