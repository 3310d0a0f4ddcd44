"""The runtime of one process: wiring only.

It connects Redis and storage, builds the backend primitives, the plugin set (which
routes task types), the attempt contexts, the queue names and the rate limiters from the
settings, and carries the process's one clock. Every other part of the control plane
receives a Runtime and takes what it needs from it; nothing here decides anything about
an execution. A worker or scheduler process builds one, once (:func:`process_runtime`).
"""

from __future__ import annotations

import copy
import logging
import os
import threading

import redis

from plugins.core import EnvSecretManager, PluginRegistry
from plugins.io import DataStore
from scheduler._backend import (
    DoneChannel,
    ExecutionStore,
    Keys,
    RedisResourceManager,
    ResultCache,
    RunLeases,
    ServedTypes,
    ShardMap,
    TokenLedger,
    WakeChannel,
    connect,
)
from scheduler._runtime.attempts import Attempts
from scheduler._runtime.calls import PluginCalls
from scheduler._runtime.contexts import Contexts
from scheduler._runtime.limiters import Limiters
from scheduler._runtime.plugins import PluginSet
from scheduler._runtime.queues import Queues
from scheduler._runtime.redaction import Redactor
from scheduler.clock import Clock, utcnow
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
        shards: Every shard's key names, and the shard of each execution.
        shard: The shard whose scheduler this runtime serves (0 but in :meth:`for_shard`'s).
        keys: Every Redis key name, of :attr:`shard`.
        redactor: Masks this process's secrets in error text before it is stored.
        data_store: Blob storage.
        store: Execution records (any shard's; its ``indexes`` are :attr:`shard`'s).
        quotas: Quota tokens.
        tokens: Which execution holds each token.
        wake: The schedulers' wake-ups.
        done: Done messages, for clients that wait on an execution.
        runs: Run leases of steps in progress (any shard's; :attr:`shard`'s are reaped).
        cache: The result cache.
        served: The task types live processes serve.
        plugins: The plugins, loaded on first use; they route task types.
        queues: The Celery queue names.
        limiters: The plugins' global rate limiters.
        attempts: Ends attempts (the token released, then a retry or the end).
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
        self.redis = redis_client or connect(settings.redis_url, **settings.redis_options())
        self.shards = ShardMap(settings.key_prefix, settings.shards)
        self.shard = 0
        self.keys: Keys = self.shards.keys[0]
        self.data_store = DataStore(
            storage_options=settings.storage_options,
            max_download_bytes=settings.max_download_bytes,
        )
        self.redactor = Redactor.for_process(settings)
        self.store = self._store(0)
        self.quotas = RedisResourceManager(
            self.redis, key_prefix=self.keys.quota_prefix, lease=settings.token_lease
        )
        self.tokens = TokenLedger(self.redis, self.keys, self.quotas)
        self.wake = WakeChannel(self.redis, self.keys, self.shards)
        self.done = DoneChannel(self.redis, self.shards)
        self.runs = RunLeases(self.redis, self.keys, self.shards)
        self.cache = ResultCache(
            self.redis,
            self.data_store,
            settings.storage,
            key_prefix=settings.key_prefix,
            heartbeat=settings.cache_heartbeat,
            ttl=settings.cache_ttl,
        )
        self.served = ServedTypes(self.redis, self.keys, self.clock)
        self.plugins = PluginSet(
            settings.plugins,
            settings.plugin_config,
            registry,
            served=self.served,
            get_batch_size=settings.get_batch_size,
        )
        self.queues = Queues(settings.queue_prefix, self.plugins)
        self.limiters = Limiters(self.redis, self.keys, self.plugins)
        self.attempts = Attempts(self.tokens, self.store, self.policy, clock)
        self.contexts = Contexts(self.data_store, settings.storage, EnvSecretManager())
        self.calls = PluginCalls(settings.call_concurrency)
        self._views: dict[int, Runtime] = {0: self}

    def _store(self, shard: int) -> ExecutionStore:
        return ExecutionStore(
            self.redis,
            key_prefix=self.settings.key_prefix,
            retention=self.settings.retention,
            redact=self.redactor or None,
            shards=self.shards.count,
            shard=shard,
        )

    def for_shard(self, shard: int) -> Runtime:
        """This runtime as the scheduler of ``shard`` sees it.

        The same connections, plugins and clock; the store's indexes, the run leases it
        reaps, its wake-up list and its leader lease are ``shard``'s.
        """
        if shard not in self._views:
            view = copy.copy(self)
            view.shard, view.keys = shard, self.shards.keys[shard]
            view.store = self._store(shard)
            view.runs = RunLeases(self.redis, view.keys, self.shards)
            view.wake = WakeChannel(self.redis, view.keys, self.shards)
            self._views[shard] = view
        return self._views[shard]

    def close(self) -> None:
        """Stop the plugins' background work (connector discovery) and close Redis."""
        self.plugins.close()
        self.redis.close()


class _Process:
    """This process's Runtime, by the pid that built it, and the lock that guards it."""

    runtime: tuple[int, Runtime] | None = None
    lock = threading.Lock()

    @classmethod
    def after_fork(cls) -> None:
        # A thread of the parent may have held the lock as the pool forked.
        cls.lock = threading.Lock()


os.register_at_fork(after_in_child=_Process.after_fork)


def process_runtime(settings: Settings | None = None) -> Runtime:
    """This process's one Runtime, built on first use.

    A worker's main process, each of its pool processes (after the fork: a child gets its
    own connections and threads) and the scheduler each build one, from ``settings`` or
    the ``FLYTE_CELERY_*`` variables, and share it between their parts.
    """
    pid = os.getpid()
    with _Process.lock:
        if _Process.runtime is None or _Process.runtime[0] != pid:
            _Process.runtime = (pid, Runtime(settings or Settings.load()))
        return _Process.runtime[1]
