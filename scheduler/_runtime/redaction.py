"""Secrets never reach the record: error text is redacted before it is stored.

A failure message is user-visible (``flyte-celery get``, the events, the console), and
a user exception or a plugin error can quote anything it saw: a connection URL with
its password, a token from the environment. Before a record is written, its free
text (reasons, error messages) has every known secret value replaced by ``****``.

The secrets of a process are the passwords in its Redis and broker URLs, the values
of its storage options whose names say they are secret, and the values of its
environment variables that are task secrets (``_FSEC_*``, flytekit's prefix) or whose
names say they are secret (``...PASSWORD``, ``...TOKEN``, ``...SECRET``, ``...KEY``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from scheduler.settings import Settings

__all__ = ["MASK", "Redactor"]

MASK = "****"
_MIN_LENGTH = 8  # shorter values (a flag such as "true") would mask ordinary words
_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|PRIVATE|_KEY$|^KEY$)", re.I)


def _url_password(url: str | None) -> list[str]:
    if not url:
        return []
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    if password is None:
        return []
    # Both forms: as the client sends it (unescaped; see with_password), and as a text
    # quoting the URL shows it (escaped, ``p%40ss``).
    return [unquote(password), password]


def _secret_values(options: Mapping[str, Any]) -> Iterable[str]:
    for name, value in options.items():
        if isinstance(value, Mapping):
            yield from _secret_values(value)
        elif isinstance(value, str) and _SECRET_NAME.search(str(name)):
            yield value


class Redactor:
    """Replaces known secret values in text by ``****``.

    Args:
        secrets: The values to hide; those shorter than four characters are ignored.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        unique = {s for s in secrets if s and len(s) >= _MIN_LENGTH}
        self._secrets = sorted(unique, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @classmethod
    def for_process(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> Redactor:
        """The secrets of a process with ``settings`` and ``environ`` (``os.environ``)."""
        env = os.environ if environ is None else environ
        values: list[str | None] = [
            *_url_password(settings.redis_url),
            *_url_password(settings.broker_url),
            settings.redis_password,
        ]
        if settings.redis_password:
            values.append(quote(settings.redis_password, safe=""))
        values += list(_secret_values(settings.storage_options))
        for name, value in env.items():
            if name.startswith("_FSEC_") or _SECRET_NAME.search(name):
                values.append(value)
            elif name.endswith("_URL"):
                values += _url_password(value)
        return cls(v for v in values if v)
