"""Redis's own errors as the project's: what every public client call raises instead."""

from __future__ import annotations

import redis

from plugins.errors import AccessDeniedError, BackendUnavailableError, FlyteCeleryError

__all__ = ["project_error"]


def project_error(exc: redis.RedisError, note: str = "") -> FlyteCeleryError:
    """The project's error for ``exc``; ``note`` (what happened already) ends its message."""
    tail = f"; {note}" if note else ""
    if isinstance(exc, redis.exceptions.NoPermissionError | redis.AuthenticationError):
        # A deployment restricts clients with Redis ACLs (see the README's roles).
        return AccessDeniedError(
            f"Redis refused this call: {type(exc).__name__}: {exc} (check the user and "
            f"password in FLYTE_CELERY_REDIS_URL, and that user's ACL role){tail}"
        )
    # redis-py names the host and port, never the password.
    return BackendUnavailableError(f"Redis is unavailable: {type(exc).__name__}: {exc}{tail}")
