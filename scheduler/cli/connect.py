"""How the CLI reaches a deployment: one clear line when Redis is not there, or is not one.

Without ``FLYTE_CELERY_REDIS_URL`` the CLI reads the default Redis, which is rarely the
stack the user meant: an unreachable one says so, naming the URL tried, and a reachable one
that no scheduler ever used gets a one-line warning instead of an empty table.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta

import redis

from plugins.errors import AccessDeniedError, BackendUnavailableError
from scheduler._backend import connect as redis_client
from scheduler._client import SERVER_URL_ENV, Client, RemoteClient
from scheduler._runtime import Runtime
from scheduler.clock import Clock, utcnow
from scheduler.settings import Settings, masked_url

__all__ = ["REDIS_URL_ENV", "AnyClient", "clock_of", "connect", "connect_user"]

AnyClient = Client | RemoteClient
"""What a user's command works through: the deployment's Redis, or its HTTP API."""

REDIS_URL_ENV = "FLYTE_CELERY_REDIS_URL"

_NOT_SET = (
    f" ({REDIS_URL_ENV} is not set, so this is the default; start a stack with "
    "./flyte-celery standalone and run the export lines it prints)"
)


def connect(settings: Settings | None = None, *, timeout: timedelta | None = None) -> Client:
    """A client of the configured deployment, once its Redis has answered.

    ``timeout`` bounds each Redis call (a server that stops answering raises instead of
    hanging); ``None`` waits as long as it takes, as the scheduler's calls do.

    Raises:
        BackendUnavailableError: Redis does not answer; the message names the URL tried.
        ConfigError: A setting is malformed.
    """
    settings = settings or Settings.load()
    configured = bool(os.environ.get(REDIS_URL_ENV))
    url = masked_url(settings.redis_url)
    if timeout is None:
        client = Client(settings=settings)
    else:
        seconds = timeout.total_seconds()
        bounded = redis_client(
            settings.redis_url, socket_timeout=seconds, socket_connect_timeout=seconds
        )
        client = Client(runtime=Runtime(settings, redis_client=bounded))
    runtime = client.runtime
    try:
        runtime.redis.ping()
    except (redis.AuthenticationError, redis.exceptions.NoPermissionError) as exc:
        client.close()
        raise AccessDeniedError(
            f"Redis at {url} refused the CLI: {exc} (check the user "
            f"and password in {REDIS_URL_ENV}, and that user's ACL role)"
        ) from None
    except redis.RedisError as exc:
        client.close()
        raise BackendUnavailableError(
            f"cannot reach Redis at {url}: {exc}" + ("" if configured else _NOT_SET)
        ) from None
    try:
        seen = runtime.store.totals.count() > 0 or bool(
            runtime.redis.exists(runtime.keys.leader, runtime.keys.served)
        )
    except redis.RedisError:
        seen = True  # a restricted role may not read these: the command will say what it can
    if not seen and not configured:
        print(
            f"flyte-celery: warning: no flyte-celery stack has used {url}" + _NOT_SET,
            file=sys.stderr,
        )
    return client


def connect_user() -> AnyClient:
    """The client of a user's command: the HTTP API's with ``FLYTE_CELERY_SERVER_URL`` set.

    Then the command needs only ``FLYTE_CELERY_TOKEN``, no Redis or storage credentials,
    and does what the token's grants allow; otherwise it reaches Redis (:func:`connect`).

    Raises:
        ConfigError: The server URL is set and the token is not.
    """
    if os.environ.get(SERVER_URL_ENV):
        return RemoteClient.from_env()
    return connect()


def clock_of(client: AnyClient) -> Clock:
    """The clock a command's ages and waits read (the client's, or the system's)."""
    return client.runtime.clock if isinstance(client, Client) else utcnow
