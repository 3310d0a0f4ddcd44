"""The runtime of one process: wiring only.

It connects Redis and storage, builds the backend primitives, the plugin set,
the attempt contexts, the queue names and the rate limiters from the settings,
and carries the process's one clock. Every other part of the control plane
receives a Runtime and takes what it needs from it; nothing here decides
anything about an execution.

Queues: every plugin has a default queue ``<queue prefix>.<plugin id>``, and one
more per quota namespace, ``<queue prefix>.<plugin id>.<namespace>``. Jobs of an
execution go to its namespace's queue, so a worker can be dedicated to one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import datetime, timedelta

import redis

from plugins.core import EnvSecretManager, PhaseInfo, PluginRegistry
from plugins.errors import PluginError, PluginNotFoundError
from plugins.io import DataStore
from scheduler._backend import (
    DoneChannel,
    ExecutionStore,
    Keys,
    RedisRateLimiter,
    RedisResourceManager,
    ResultCache,
    RunLeases,
    ServedTypes,
    TokenLedger,
    WakeChannel,
)
from scheduler._model import Event, ExecutionRecord, LimiterKind, machine
from scheduler._runtime.calls import PluginCalls
from scheduler._runtime.contexts import Contexts
from scheduler._runtime.plugins import LoadedPlugin, PluginSet
from scheduler._runtime.redaction import Redactor
from scheduler.clock import Clock, utcnow
from scheduler.metrics import zero_series
from scheduler.settings import RetryPolicy, Settings

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Shared handles of one process.

    Args:
        settings: The process's settings.
        redis_client: A client to reuse; one is made from ``settings.redis_url`` if omitted.
        registry: A registry to use instead of entry points plus ``settings.plugins``.
        clock: The process's clock (the system clock by default).

    Attributes:
        settings: The settings.
        clock: The clock every part of the process reads.
        policy: The system-retry policy, built once from the settings.
        redis: The Redis client.
        keys: Every Redis key name.
        redactor: Masks this process's secrets in error text before it is stored.
        data_store: Blob storage.
        store: Execution records.
        quotas: Quota tokens.
        tokens: Which execution holds each token.
        wake: The scheduler's wake-ups.
        done: Done messages, for clients that wait on an execution.
        runs: Run leases of steps in progress.
        cache: The result cache.
        plugins: The plugins, loaded on first use.
        contexts: Builds what plugin calls see.
        calls: Runs plugin calls: the process's event loop and thread pool, and how many
            calls of each plugin run at once.
    """

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.Redis | None = None,
        registry: PluginRegistry | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.policy: RetryPolicy = settings.retry_policy
        self.redis = redis_client or redis.Redis.from_url(
            settings.redis_url, **settings.redis_options()
        )
        self.keys = Keys(settings.key_prefix)
        self.data_store = DataStore(
            storage_options=settings.storage_options,
            max_download_bytes=settings.max_download_bytes,
        )
        self.redactor = Redactor.for_process(settings)
        self.store = ExecutionStore(
            self.redis,
            key_prefix=settings.key_prefix,
            retention=settings.retention,
            redact=self.redactor or None,
        )
        self.quotas = RedisResourceManager(
            self.redis, key_prefix=self.keys.quota_prefix, lease=settings.token_lease
        )
        self.tokens = TokenLedger(self.redis, self.keys, self.quotas)
        self.wake = WakeChannel(self.redis, self.keys)
        self.done = DoneChannel(self.redis, self.keys)
        self.runs = RunLeases(self.redis, self.keys)
        self.cache = ResultCache(
            self.redis,
            self.data_store,
            settings.storage,
            key_prefix=settings.key_prefix,
            heartbeat=settings.cache_heartbeat,
            ttl=settings.cache_ttl,
        )
        self.plugins = PluginSet(settings.plugins, settings.plugin_config, registry)
        self.served = ServedTypes(self.redis, self.keys, self.clock)
        self.contexts = Contexts(self.data_store, settings.storage, EnvSecretManager())
        self.calls = PluginCalls(settings.call_concurrency)
        self._limiters: dict[tuple[str, LimiterKind], RedisRateLimiter] = {}
        self._get_batch_sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop the plugins' background work (connector discovery) and close Redis."""
        self.plugins.close()
        self.redis.close()

    # -- quotas --------------------------------------------------------------------------------

    def register_quotas(self) -> dict[str, int]:
        """Write the quotas of every plugin that loads to Redis (at process start-up).

        The newest deployment's configuration wins, so a changed quota takes effect. A
        plugin that fails to load is left out: it fails only its own executions.

        Returns:
            The quota of each ``<plugin id>:<namespace>``.
        """
        quotas = self.plugins.quotas()
        for namespace, quota in quotas.items():
            self.quotas.set_resource_quota(namespace, quota)
        return quotas

    def ensure_quotas(self) -> bool:
        """Register the quotas again if Redis lost any (a restart without persistence, a flush).

        Costs one read when nothing is missing.

        Returns:
            Whether they had to be registered.
        """
        expected = self.plugins.quotas()
        if expected and set(expected) <= set(self.quotas.namespaces()):
            return False
        if expected:
            log.warning("quota namespaces missing from Redis; registering them again")
        self.register_quotas()
        return bool(expected)

    def end_attempt(
        self, record: ExecutionRecord, now: datetime | None, info: PhaseInfo
    ) -> tuple[ExecutionRecord, list[Event]]:
        """End the attempt with ``info``: release its quota token, then retry or finish.

        The release is Flyte's finalize, and idempotent: a write that loses its race and is
        applied again releases nothing twice. The record that comes back is the next
        attempt's, or the execution's end, with the events of the change
        (:func:`~scheduler._model.machine.finish_attempt`). ``now`` ``None`` reads the clock
        once the token is released.
        """
        if record.token_namespace is not None:
            self.tokens.release(record.token_namespace, record.token)
        return machine.finish_attempt(record, now or self.clock(), info, self.policy)

    # -- routing -------------------------------------------------------------------------------

    def route(self, task_type: str) -> LoadedPlugin | None:
        """The plugin that runs ``task_type`` (see :meth:`PluginSet.route`); ``None``: not yet.

        Raises:
            PluginNotFoundError: Nothing serves it, here or in a live process.
        """
        return self.plugins.route(task_type, self.served.lookup)

    def check_served(self, task_type: str) -> None:
        """Accept a task type that a live process serves, or that this process's registry knows.

        A client cannot know every type: workers import connector modules it does
        not, and the scheduler discovers connectors over gRPC. So what live processes
        publish (:class:`ServedTypes`) is asked first, and the local plugins are loaded
        only for a type none serves.

        Raises:
            PluginNotFoundError: Nothing serves it; the message lists what is served.
            PluginError: Several local plugins handle it and none is preferred.
        """
        if self.served.lookup(task_type) is not None:
            # A live process routes it: no need to load every plugin here (connector
            # modules would import flytekit, and install its traceback hook, in the
            # user's script).
            return
        try:
            self.plugins.registry.entry_for(task_type)
        except PluginNotFoundError as exc:
            served = ", ".join(sorted(self.served.all())) or "none"
            raise PluginNotFoundError(
                f"{exc.message}, and no running worker or scheduler serves it "
                f"(served by running processes: {served})"
            ) from None

    def publish_served(self, *, claims: bool, ttl: timedelta) -> dict[str, str]:
        """Publish the task types this process serves for ``ttl``; returns them."""
        routes = self.plugins.routes(claims=claims)
        self.served.publish(routes, ttl)
        return routes

    # -- queues and limiters -------------------------------------------------------------------

    def queue(self, plugin_id: str, namespace: str | None = None) -> str:
        """The Celery queue for a plugin's jobs in ``namespace`` (its default queue if None)."""
        base = f"{self.settings.queue_prefix}.{plugin_id}"
        return base if namespace is None else f"{base}.{namespace}"

    def queues(self) -> list[str]:
        """Every queue: each plugin's default queue and one per quota namespace.

        A plugin that fails to load still gets its default queue, so its jobs are
        consumed and fail its executions with the load error instead of piling up.
        """
        loadable = {loaded.id: loaded for loaded in self.plugins.loadable()}
        names: list[str] = []
        for plugin_id in self.plugins.ids:
            names.append(self.queue(plugin_id))
            if plugin_id in loadable:
                quotas = loadable[plugin_id].config.resource_quotas
                names.extend(self.queue(plugin_id, ns) for ns in sorted(quotas))
        return names

    def queue_for(self, record: ExecutionRecord) -> str:
        """The queue of the record's jobs: its plugin's, by quota namespace."""
        return self.queue_of(record.plugin_id, record.token_namespace)

    def queue_of(self, plugin_id: str, token_namespace: str | None) -> str:
        """The queue of jobs of ``plugin_id`` whose attempt holds a token of ``token_namespace``."""
        namespace = None
        prefix = f"{plugin_id}:"
        if token_namespace and token_namespace.startswith(prefix):
            namespace = token_namespace[len(prefix) :]
        return self.queue(plugin_id, namespace)

    def get_batch_size(self, plugin_id: str) -> int:
        """How many Gets one job of the plugin carries.

        ``FLYTE_CELERY_GET_BATCH_SIZE``, or the plugin's ``caching.workers`` if larger: a
        worker process runs one job at a time (prefork), so it can only run ``workers``
        calls at once when a job brings that many.
        """
        with self._lock:
            size = self._get_batch_sizes.get(plugin_id)
        if size is None:
            size = self.settings.get_batch_size
            # A plugin that cannot load keeps the default: it fails its executions elsewhere.
            with contextlib.suppress(PluginError):
                size = max(size, self.plugins.get(plugin_id).config.caching.workers)
            with self._lock:
                self._get_batch_sizes[plugin_id] = size
        return size

    def largest_get_batch(self) -> int:
        """The largest Get job of any plugin that loads (see :meth:`get_batch_size`)."""
        sizes = [self.get_batch_size(loaded.id) for loaded in self.plugins.loadable()]
        return max([self.settings.get_batch_size, *sizes])

    def limiter(self, plugin_id: str, kind: LimiterKind) -> RedisRateLimiter:
        """The plugin's global read (Get) or write (Create, Delete, Do) limiter."""
        with self._lock:
            limiter = self._limiters.get((plugin_id, kind))
            if limiter is None:
                config = self.plugins.get(plugin_id).config
                limits = (
                    config.read_rate_limiter
                    if kind is LimiterKind.READ
                    else config.write_rate_limiter
                )
                key = self.keys.limiter(plugin_id, kind.value)
                name = _limiter_name(plugin_id, kind)
                limiter = RedisRateLimiter.from_config(self.redis, key, limits, name)
                self._limiters[plugin_id, kind] = limiter
            return limiter

    def zero_metrics(self) -> None:
        """Make the metric series of every plugin that loads, now, at zero.

        Its calls, its rate limiters, the task types whose cache lookups are counted and
        the quota namespaces (see :func:`scheduler.metrics.zero_series`). Loads the
        plugins, as the first job or tick would.
        """
        plugins = self.plugins
        loaded = plugins.loadable()
        zero_series(
            {p.id: p.kind.operations for p in loaded},
            [_limiter_name(p.id, kind) for p in loaded for kind in p.kind.limiters],
            plugins.routes(claims=True),  # the task types it routes, as the scheduler does
            plugins.quotas(),
        )


def _limiter_name(plugin_id: str, kind: LimiterKind) -> str:
    return f"{plugin_id}/{kind.value}"
