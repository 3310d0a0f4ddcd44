"""Settings of every flyte-celery process, from ``FLYTE_CELERY_*`` environment variables.

One object holds every knob, read once per process (never at import time). Nested
values use ``__`` (``FLYTE_CELERY_STORAGE_OPTIONS__KEY``); durations accept Go
strings (``30s``), seconds or ISO 8601. Objects derived from the settings, such as
the :class:`RetryPolicy`, are built here and nowhere else.

This module is a leaf of ``scheduler``: it imports nothing else from the package.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from plugins.errors import ConfigError
from plugins.webapi import parse_duration

__all__ = [
    "RetryPolicy",
    "Settings",
    "default_storage",
    "masked_url",
    "normalize_tls",
    "with_password",
]

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


@dataclass(frozen=True)
class RetryPolicy:
    """How failed attempts are retried.

    Attributes:
        max_system_retries: Attempts that may fail with SYSTEM errors and be retried.
        backoff: The delay before the first system retry; it doubles each time.
        backoff_max: The longest such delay.
        user_backoff: The delay before the first user retry (the template's
            ``retries``); it doubles each time, so a failing remote is not hammered.
        user_backoff_max: The longest such delay.
    """

    max_system_retries: int = 3
    backoff: timedelta = timedelta(seconds=1)
    backoff_max: timedelta = timedelta(minutes=1)
    user_backoff: timedelta = timedelta(seconds=1)
    user_backoff_max: timedelta = timedelta(minutes=1)

    def system_delay(self, failures: int) -> timedelta:
        """The backoff before retrying after the ``failures``-th system failure (from 1)."""
        return _doubling(self.backoff, failures, self.backoff_max)

    def user_delay(self, failures: int) -> timedelta:
        """The backoff before retrying after the ``failures``-th user failure (from 1)."""
        return _doubling(self.user_backoff, failures, self.user_backoff_max)


def _doubling(first: timedelta, failures: int, ceiling: timedelta) -> timedelta:
    delay: timedelta = first * (1 << min(max(0, failures - 1), 30))
    return min(delay, ceiling)


_CERT_REQS = {"none": "none", "optional": "optional", "required": "required"}
_CERT_REQS.update({f"cert_{k}": v for k, v in _CERT_REQS.items()})


def normalize_tls(url: str) -> str:
    """``url`` with ``ssl_cert_reqs`` spelled as redis-py reads it.

    Celery's documentation spells it ``CERT_REQUIRED``, redis-py ``required``; both
    (any case) are accepted, and written the one way every client here understands.

    Raises:
        ValueError: ``ssl_cert_reqs`` has another value.
    """
    parts = urlsplit(url)
    if "ssl_cert_reqs" not in parts.query:
        return url
    query = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        spelled = _CERT_REQS.get(value.lower()) if name == "ssl_cert_reqs" else value
        if spelled is None:
            raise ValueError(
                f"ssl_cert_reqs must be required, optional or none (or CERT_REQUIRED, "
                f"CERT_OPTIONAL, CERT_NONE), got {value!r}"
            )
        query.append((name, spelled))
    return urlunsplit(parts._replace(query=urlencode(query)))


CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""The URL schemes that name a Redis Cluster, and the scheme of each node's connection."""


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (its scheme, or several startup nodes)."""
    parts = urlsplit(url)
    return parts.scheme in CLUSTER_SCHEMES or "," in parts.netloc.rpartition("@")[2]


def default_storage() -> str:
    """``file://~/.flyte-celery/storage``: a local directory, for one-machine use."""
    return f"file://{Path.home() / '.flyte-celery' / 'storage'}"


class Settings(BaseSettings):
    """Configuration shared by the client, the scheduler (beat) and the workers.

    Attributes:
        redis_url: The Redis that holds executions, quotas and limiters: one server, or a
            Redis Cluster (``redis+cluster://host:port``, or several ``host:port``
            startup nodes, comma-separated; see ``docs/scaling.md``).
        redis_password: Its password, when the URL carries none: put into the URL
            (escaped), so a password with ``@``, ``/`` or ``:`` needs no URL-encoding.
        redis_socket_timeout: The longest a Redis command may wait for its reply before
            the caller treats Redis as away (it retries, or waits for it, as for a lost
            connection). Longer than ``tick_interval``: the scheduler blocks that long.
        redis_connect_timeout: The longest a connection to Redis may take to open.
        redis_health_check_interval: A connection idle this long is checked (``PING``)
            before use, so a half-open one (Redis restarted behind a proxy or NAT) fails
            fast instead of at the next command's timeout.
        broker_url: Celery's broker; defaults to ``redis_url``. It must be set when that
            names a Redis Cluster (kombu cannot use one): RabbitMQ or a separate Redis.
        storage: The fsspec base URL under which executions keep their files.
        storage_options: Options for fsspec (credentials, endpoint URLs).
        max_download_bytes: The largest blob read from storage.
        plugins: ``module:attr`` specs of extra plugin entries, comma-separated.
        plugin_config: A YAML file of per-plugin ``PluginConfig`` overrides, keyed by
            plugin id; Flyte's camelCase keys are accepted.
        key_prefix: Prefix of every Redis key.
        shards: How many shards the executions are split into, each with its own scheduler
            leader (see ``docs/scaling.md``). Fixed for a deployment's life: changing it
            moves executions to other shards, where no scheduler looks for them.
        queue_prefix: Prefix of every Celery queue name.
        visibility_timeout: Celery's redelivery deadline for unacknowledged jobs; a
            claimed step that never started for this long is re-enqueued.
        call_timeout: The longest a plugin call may run before it is cut off (Celery's
            soft time limit on its job; the hard limit follows 30 s later). A Do call
            of a task with a timeout is cut off 10 s after the attempt's deadline.
        run_lease: How long a worker's claim on a step it runs lasts without renewal;
            it renews every third of it, and a worker that died is noticed after it.
        leader_lease: How long the scheduler's leadership lasts without renewal; a
            standby takes over within it.
        token_lease: How long a quota token lives without renewal.
        tick_interval: The longest the scheduler sleeps when nothing wakes it.
        tick_stats_period: How often the scheduler logs its ticks' count and p50, p99
            and longest duration.
        get_batch_size: The most executions one Get job carries.
        create_batch_size: The most executions one Create job carries (their Creates run
            concurrently).
        queue_backlog: The most jobs a plugin's queue may hold, waiting for a worker, before
            the scheduler stops launching new executions into it; they wait in
            QUEUED, in line, first come first served, until workers catch up. So a
            burst never queues more than the workers drain within the visibility timeout.
            0 turns it off.
        call_concurrency: The most plugin calls one worker process runs at once, of all
            its plugins together (each plugin also stays within its ``caching.workers``).
            Plain ``def`` methods run on a thread pool of at most this many threads.
        max_system_retries: Attempts that may fail with SYSTEM errors before the
            execution fails (Flyte's ``max-node-retries-system-failures``).
        system_retry_backoff: The delay before the first system retry; it doubles.
        system_retry_backoff_max: The longest delay between system retries.
        retry_backoff: The delay before the first user retry; it doubles.
        retry_backoff_max: The longest delay between user retries.
        retention: How long finished executions are kept.
        cache_heartbeat: How often a ``cache_serialize`` reservation is renewed;
            it expires after three missed heartbeats (Flyte's grace multiplier).
        cache_ttl: How long a result-cache entry lives after it is written.
        metrics_port: When set, each ``celery -A worker worker`` and ``beat`` serves its own
            processes' metrics (its prefork children's included, through
            ``PROMETHEUS_MULTIPROC_DIR``) on this port: one endpoint per container.
        metrics_host: The address that endpoint listens on.
    """

    model_config = SettingsConfigDict(
        env_prefix="FLYTE_CELERY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_password: str | None = Field(default=None, repr=False)
    redis_socket_timeout: Duration = timedelta(seconds=10)
    redis_connect_timeout: Duration = timedelta(seconds=5)
    redis_health_check_interval: Duration = timedelta(seconds=30)
    broker_url: str | None = None
    storage: str = Field(default_factory=default_storage)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    max_download_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    plugins: str = ""
    plugin_config: Path | None = None
    key_prefix: str = "flyte-celery"
    shards: int = Field(default=1, ge=1, le=1024)
    queue_prefix: str = "flyte-celery"
    visibility_timeout: Duration = timedelta(minutes=5)
    run_lease: Duration = timedelta(seconds=15)
    call_timeout: Duration = timedelta(hours=1)
    leader_lease: Duration = timedelta(seconds=10)
    token_lease: Duration = timedelta(minutes=5)
    tick_interval: Duration = timedelta(seconds=1)
    tick_stats_period: Duration = timedelta(minutes=1)
    get_batch_size: int = Field(default=200, ge=1, le=10_000)
    create_batch_size: int = Field(default=20, ge=1, le=1_000)
    queue_backlog: int = Field(default=100, ge=0, le=1_000_000)
    call_concurrency: int = Field(default=1000, ge=1, le=100_000)
    max_system_retries: int = Field(default=3, ge=0)
    system_retry_backoff: Duration = timedelta(seconds=1)
    system_retry_backoff_max: Duration = timedelta(minutes=1)
    retry_backoff: Duration = timedelta(seconds=1)
    retry_backoff_max: Duration = timedelta(minutes=1)
    retention: Duration = timedelta(days=7)
    cache_heartbeat: Duration = timedelta(seconds=5)
    cache_ttl: Duration = timedelta(days=30)
    metrics_port: int | None = Field(default=None, ge=0, le=65_535)
    metrics_host: str = "127.0.0.1"

    @field_validator(
        "redis_socket_timeout",
        "redis_connect_timeout",
        "redis_health_check_interval",
        "visibility_timeout",
        "run_lease",
        "call_timeout",
        "leader_lease",
        "token_lease",
        "tick_interval",
        "tick_stats_period",
        "system_retry_backoff",
        "system_retry_backoff_max",
        "retry_backoff",
        "retry_backoff_max",
        "retention",
        "cache_heartbeat",
        "cache_ttl",
    )
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration")
        return value

    @model_validator(mode="before")
    @classmethod
    def _password_into_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("redis_password"):
            url = str(data.get("redis_url") or "redis://127.0.0.1:6379/0")
            data = {**data, "redis_url": with_password(url, str(data["redis_password"]))}
        return data

    @model_validator(mode="after")
    def _blocking_fits_timeout(self) -> Settings:
        if self.redis_socket_timeout <= self.tick_interval:
            raise ValueError(
                "FLYTE_CELERY_REDIS_SOCKET_TIMEOUT "
                f"({self.redis_socket_timeout.total_seconds():g}s) must be longer than "
                f"FLYTE_CELERY_TICK_INTERVAL ({self.tick_interval.total_seconds():g}s): the "
                "scheduler blocks on Redis for up to a tick interval"
            )
        return self

    @field_validator("key_prefix")
    @classmethod
    def _no_hash_tag(cls, value: str) -> str:
        if "{" in value or "}" in value:
            # The keys put the prefix in hash tags of their own (one Redis Cluster slot per
            # shard); a brace in it would end a tag early and split a shard over slots.
            raise ValueError("must not contain { or }")
        return value

    @model_validator(mode="after")
    def _broker_is_no_cluster(self) -> Settings:
        if is_cluster_url(self.broker):
            named = "FLYTE_CELERY_BROKER_URL" if self.broker_url else "FLYTE_CELERY_REDIS_URL"
            raise ValueError(
                f"{named} names a Redis Cluster, which cannot be Celery's broker (kombu does "
                "not support Redis Cluster): set FLYTE_CELERY_BROKER_URL to RabbitMQ "
                "(amqp://...) or to a separate, single Redis"
            )
        return self

    def redis_options(self) -> dict[str, Any]:
        """The timeouts of every Redis client (redis-py's keyword arguments)."""
        return {
            "socket_timeout": self.redis_socket_timeout.total_seconds(),
            "socket_connect_timeout": self.redis_connect_timeout.total_seconds(),
            "health_check_interval": self.redis_health_check_interval.total_seconds(),
            "socket_keepalive": True,
        }

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _tls_spelling(cls, value: str | None) -> str | None:
        return None if value is None else normalize_tls(value)

    @property
    def broker(self) -> str:
        """The broker URL actually used."""
        return self.broker_url or self.redis_url

    @property
    def retry_policy(self) -> RetryPolicy:
        """The system-retry policy these settings describe."""
        return RetryPolicy(
            self.max_system_retries,
            self.system_retry_backoff,
            self.system_retry_backoff_max,
            self.retry_backoff,
            self.retry_backoff_max,
        )

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """Read the environment (plus ``overrides``).

        Raises:
            ConfigError: A value is invalid; the message names the variable.
        """
        try:
            return cls(**overrides)
        except ValidationError as exc:
            lines = [
                f"FLYTE_CELERY_{'__'.join(str(p) for p in err['loc']).upper()}: {err['msg']} "
                f"(got {_shown(err.get('input'))})"
                if err["loc"]
                else err["msg"].removeprefix("Value error, ")  # it names the settings itself
                for err in exc.errors()
            ]
            raise ConfigError("invalid flyte-celery settings:\n" + "\n".join(lines)) from None

    def environment(self) -> dict[str, str]:
        """These settings as ``FLYTE_CELERY_*`` variables, for child processes."""
        env: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            key = f"FLYTE_CELERY_{name.upper()}"
            if isinstance(value, timedelta):
                env[key] = str(value.total_seconds())
            elif isinstance(value, dict):
                for sub, item in value.items():
                    env[f"{key}__{sub.upper()}"] = str(item)
            else:
                env[key] = str(value)
        return env

    def child_environment(self) -> dict[str, str]:
        """``os.environ`` with these settings applied."""
        return {**os.environ, **self.environment()}


def masked_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for messages and logs).

    The password is everything between the user's ``:`` and the last ``@`` before the
    host (a password may hold an unescaped ``@``), and any ``password=`` query value.
    """
    url = re.sub(r"(//[^:/@]*:)[^/]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", url)


def _shown(value: object) -> str:
    """A rejected setting as an error message shows it: a URL's password masked."""
    return repr(masked_url(value)) if isinstance(value, str) else repr(value)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (escaped) as its password, unless it has one already."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if at and ":" in user:
        return url  # the URL says its own password
    netloc = f"{user}:{quote(password, safe='')}@{host if at else parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))
