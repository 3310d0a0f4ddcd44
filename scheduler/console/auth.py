"""Who may act from the console: users and passwords, as Flower's ``--basic-auth`` takes them.

``FLYTE_CELERY_CONSOLE_USERS`` is ``name:password[,name:password...]``. Without it
the console is read-only: everyone may look, nobody may abort or signal.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from plugins.errors import ConfigError

__all__ = ["Users"]


@dataclass(frozen=True)
class Users:
    """The console's users and their passwords.

    Attributes:
        passwords: Each user's password.
    """

    passwords: dict[str, str] = field(default_factory=dict, repr=False)

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
