"""Redis's own errors as the project's: what every public client call raises instead."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis

from plugins.errors import AccessDeniedError, BackendUnavailableError, ConfigError, FlyteCeleryError
from scheduler._backend import node_of_a_cluster

__all__ = ["project_error", "reaching_redis"]

P = ParamSpec("P")
R = TypeVar("R")


def project_error(exc: redis.RedisError, note: str = "") -> FlyteCeleryError:
    """The project's error for ``exc``; ``note`` (what happened already) ends its message."""
    tail = f"; {note}" if note else ""
    if isinstance(exc, redis.exceptions.NoPermissionError | redis.AuthenticationError):
        # A deployment restricts clients with Redis ACLs (see the README's roles).
        return AccessDeniedError(
            f"Redis refused this call: {type(exc).__name__}: {exc} (check the user and "
            f"password in FLYTE_CELERY_REDIS_URL, and that user's ACL role){tail}"
        )
    if misnamed := node_of_a_cluster(exc):
        return ConfigError(f"{misnamed}{tail}")
    # redis-py names the host and port, never the password.
    return BackendUnavailableError(f"Redis is unavailable: {type(exc).__name__}: {exc}{tail}")


def reaching_redis(method: Callable[P, R]) -> Callable[P, R]:
    """Turn Redis's own errors into the project's: public calls raise nothing else."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except redis.RedisError as exc:
            raise project_error(exc) from exc

    return call
