"""Secrets for plugins (Go's ``SecretManager``), from environment variables or files.

Keys are ``"KEY"`` or ``"GROUP/KEY"``. The lookup follows flytekit's conventions,
so secrets mounted for Flyte work unchanged:

- environment: ``<prefix><GROUP>_<KEY>`` upper-cased (prefix ``_FSEC_``);
- files: ``<directory>/<group>/<key>`` lower-cased (directory ``/etc/secrets``).

No function here logs, formats or raises with a secret's value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from flyteidl.core import security_pb2

from plugins.errors import SecretNotFoundError

__all__ = [
    "ChainedSecretManager",
    "EnvSecretManager",
    "FileSecretManager",
    "SecretManager",
    "secret_key",
]


@runtime_checkable
class SecretManager(Protocol):
    """Looks up secrets by key."""

    def get(self, key: str) -> str:
        """Return the secret's value.

        Raises:
            SecretNotFoundError: The secret is not configured.
        """
        ...


def secret_key(secret: security_pb2.Secret) -> str:
    """The lookup key (``"group/key"`` or ``"key"``) of a flyteidl ``Secret``."""
    return f"{secret.group}/{secret.key}" if secret.group else secret.key


def _split(key: str) -> tuple[str, str]:
    group, _, name = key.rpartition("/")
    if not name:
        raise SecretNotFoundError(f"secret key {key!r} is empty; expected 'KEY' or 'GROUP/KEY'")
    return group, name


_NON_WORD = re.compile(r"[^A-Za-z0-9_]")


class EnvSecretManager:
    """Secrets from environment variables named ``<prefix><GROUP>_<KEY>``.

    Args:
        prefix: The variable prefix; flytekit's is ``_FSEC_``.
        environ: The environment to read; ``os.environ`` by default.
    """

    def __init__(self, prefix: str = "_FSEC_", environ: Mapping[str, str] | None = None) -> None:
        self._prefix = prefix
        self._environ = os.environ if environ is None else environ

    def variable_name(self, key: str) -> str:
        """The environment variable that holds ``key``."""
        group, name = _split(key)
        parts = [group, name] if group else [name]
        return self._prefix + "_".join(_NON_WORD.sub("_", p).upper() for p in parts)

    def get(self, key: str) -> str:
        """Return the secret, or raise :class:`SecretNotFoundError` naming the variable."""
        var = self.variable_name(key)
        try:
            return self._environ[var]
        except KeyError:
            raise SecretNotFoundError(
                f"secret {key!r} not found: environment variable {var} is not set"
            ) from None


class FileSecretManager:
    """Secrets from files at ``<directory>/<group>/<key>``.

    Args:
        directory: The secrets mount; flytekit's is ``/etc/secrets``.
    """

    def __init__(self, directory: str | os.PathLike[str] = "/etc/secrets") -> None:
        self._directory = Path(directory)

    def path_for(self, key: str) -> Path:
        """The file that holds ``key``."""
        group, name = _split(key)
        if ".." in [*group.split("/"), name]:
            raise SecretNotFoundError(f"secret key {key!r} may not contain '..'")
        base = self._directory / group.lower() if group else self._directory
        return base / name.lower()

    def get(self, key: str) -> str:
        """Return the file's content with one trailing newline removed."""
        path = self.path_for(key)
        try:
            text = path.read_text()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise SecretNotFoundError(f"secret {key!r} not found: no file at {path}") from None
        except OSError as exc:
            raise SecretNotFoundError(
                f"secret {key!r} could not be read from {path}: {exc.strerror}"
            ) from None
        return text.removesuffix("\n")


class ChainedSecretManager:
    """Asks several managers in turn and returns the first hit.

    Args:
        managers: The managers, in order of preference.
    """

    def __init__(self, *managers: SecretManager) -> None:
        if not managers:
            raise ValueError("ChainedSecretManager needs at least one manager")
        self._managers = managers

    def get(self, key: str) -> str:
        """Return the first manager's value; the error lists every place looked at."""
        misses: list[str] = []
        for manager in self._managers:
            try:
                return manager.get(key)
            except SecretNotFoundError as exc:
                misses.append(exc.message)
        raise SecretNotFoundError("; ".join(misses))
