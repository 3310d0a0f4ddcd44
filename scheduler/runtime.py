"""The runtime every process shares: Redis, storage, plugins, quotas, limiters, queues.

It loads plugins from the ``flyte_celery.plugins`` entry points and from
``FLYTE_CELERY_PLUGINS``, applies per-plugin overrides from the YAML file in
``FLYTE_CELERY_PLUGIN_CONFIG``, registers quotas, and builds the contexts plugin
methods receive.

Queues: every plugin has a default queue ``<queue prefix>.<plugin id>``, and one
more per quota namespace, ``<queue prefix>.<plugin id>.<namespace>``. Jobs of an
execution go to its namespace's queue, so a worker can be dedicated to one.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import redis
import yaml

from plugins.core import (
    ENTRY_POINT_GROUP,
    EnvSecretManager,
    PluginRegistry,
    ResourceNamespace,
    TaskExecutionID,
    TaskExecutionMetadata,
    TaskReader,
)
from plugins.core import Plugin as CorePlugin
from plugins.errors import ConfigError, PluginLoadError
from plugins.io import (
    BufferedOutputWriter,
    DataStore,
    RemoteFileInputReader,
    RemoteFileOutputPaths,
    RemoteFileOutputReader,
    attempt_raw_output_prefix,
    join_reference,
    previous_checkpoint_path,
)
from plugins.webapi import (
    DEFAULT_PLUGIN_CONFIG,
    AsyncPlugin,
    PluginConfig,
    SyncPlugin,
    TaskExecutionContext,
)
from scheduler.cache import ResultCache
from scheduler.quota import RedisResourceManager
from scheduler.ratelimit import RedisRateLimiter
from scheduler.records import ExecutionRecord
from scheduler.scripts import decode
from scheduler.settings import Settings
from scheduler.store import ExecutionStore

__all__ = ["AttemptContext", "LoadedPlugin", "Runtime", "execution_prefix"]


log = logging.getLogger(__name__)


def execution_prefix(storage: str, project: str, domain: str, name: str) -> str:
    """Where an execution's files live: ``<storage>/executions/<project>/<domain>/<name>``."""
    return join_reference(storage, "executions", project, domain, name)


@dataclass(frozen=True)
class LoadedPlugin:
    """A loaded plugin with its effective configuration.

    Attributes:
        id: The plugin id.
        plugin: The AsyncPlugin or SyncPlugin.
        config: Its PluginConfig with the YAML overrides applied.
    """

    id: str
    plugin: AsyncPlugin[Any, Any] | SyncPlugin | CorePlugin
    config: PluginConfig

    @property
    def is_core(self) -> bool:
        """A core plugin (``handle`` round by round)."""
        return isinstance(self.plugin, CorePlugin) and not hasattr(self.plugin, "get_config")

    @property
    def is_sync(self) -> bool:
        """A SyncPlugin (one ``do`` call) rather than an AsyncPlugin."""
        return not hasattr(self.plugin, "create") and hasattr(self.plugin, "do")

    @property
    def launch_step(self) -> str:
        """The first job of an attempt: ``create``, ``do`` or ``handle``."""
        return "handle" if self.is_core else "do" if self.is_sync else "create"


@dataclass(frozen=True)
class AttemptContext:
    """Everything about one attempt that plugin calls need."""

    context: TaskExecutionContext
    writer: BufferedOutputWriter
    paths: RemoteFileOutputPaths


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _camel_to_snake(data: Any) -> Any:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in str(key))
            # Quota namespaces are data, not field names: keep their spelling.
            out[snake] = value if snake == "resource_quotas" else _camel_to_snake(value)
        return out
    return data


class Runtime:
    """Shared handles of one process. Plugins load on first use, once.

    Args:
        settings: The process's settings.
        redis_client: A client to reuse; one is made from ``settings.redis_url`` if omitted.
        registry: A registry to use instead of entry points plus ``settings.plugins``.
    """

    def __init__(
        self,
        settings: Settings,
        redis_client: redis.Redis | None = None,
        registry: PluginRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis_client or redis.Redis.from_url(settings.redis_url)
        self.data_store = DataStore(
            storage_options=settings.storage_options,
            max_download_bytes=settings.max_download_bytes,
        )
        self.store = ExecutionStore(
            self.redis, key_prefix=settings.key_prefix, retention=settings.retention
        )
        self.resource_manager = RedisResourceManager(
            self.redis, key_prefix=f"{settings.key_prefix}:rm", lease=settings.token_lease
        )
        self.cache = ResultCache(
            self.redis,
            self.data_store,
            settings.storage,
            key_prefix=settings.key_prefix,
            heartbeat=settings.cache_heartbeat,
            ttl=settings.cache_ttl,
        )
        self.secret_manager = EnvSecretManager()
        self._registry = registry
        self._overrides = self._read_overrides()
        self._loaded: dict[str, LoadedPlugin] = {}
        self._limiters: dict[str, RedisRateLimiter] = {}
        self._lock = threading.RLock()

    # -- plugins -------------------------------------------------------------------------------

    @property
    def registry(self) -> PluginRegistry:
        """The plugin registry (entry points and ``FLYTE_CELERY_PLUGINS``)."""
        with self._lock:
            if self._registry is None:
                registry = PluginRegistry()
                registry.load_entry_points(ENTRY_POINT_GROUP)
                registry.load_specs(self.settings.plugins)
                self._registry = registry
            return self._registry

    def _read_overrides(self) -> dict[str, Any]:
        path = self.settings.plugin_config
        if path is None:
            return {}
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"FLYTE_CELERY_PLUGIN_CONFIG {path}: cannot read: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(
                f"FLYTE_CELERY_PLUGIN_CONFIG {path}: expected a mapping of plugin ids"
            )
        return data

    def plugin(self, plugin_id: str) -> LoadedPlugin:
        """The loaded plugin with ``plugin_id`` and its effective config.

        Raises:
            PluginNotFoundError: No such plugin.
            PluginLoadError: It failed to load, or its config override is invalid.
        """
        with self._lock:
            loaded = self._loaded.get(plugin_id)
            if loaded is not None:
                return loaded
            plugin = self.registry.get_plugin(plugin_id)
            # Core plugins have no PluginConfig; the defaults (and overrides) set their
            # round interval (caching.resyncInterval) and failure budget.
            base = plugin.get_config() if hasattr(plugin, "get_config") else DEFAULT_PLUGIN_CONFIG
            config = self._effective_config(plugin_id, base)
            loaded = LoadedPlugin(plugin_id, plugin, config)
            self._loaded[plugin_id] = loaded
            return loaded

    def plugin_for(self, task_type: str) -> LoadedPlugin:
        """The plugin that handles ``task_type``."""
        return self.plugin(self.registry.entry_for(task_type).id)

    def load_all(self) -> list[LoadedPlugin]:
        """Load every registered plugin now (workers and the scheduler do, at start-up)."""
        return [self.plugin(plugin_id) for plugin_id in self.registry.ids]

    def register_quotas(self) -> dict[str, int]:
        """Load every plugin and write its quotas to Redis (at process start-up).

        The newest deployment's configuration wins, so a changed quota takes effect.

        Returns:
            The quota of each ``<plugin id>:<namespace>``.
        """
        quotas: dict[str, int] = {}
        for loaded in self.load_all():
            for namespace, quota in loaded.config.resource_quotas.items():
                qns = self.quota_namespace(loaded.id, namespace)
                self.resource_manager.set_resource_quota(qns, quota)
                quotas[qns] = quota
        return quotas

    def _effective_config(self, plugin_id: str, config: PluginConfig) -> PluginConfig:
        override = self._overrides.get(plugin_id)
        if not override:
            return config
        base = config.model_dump(mode="python")
        merged = _deep_merge(base, _camel_to_snake(override))
        try:
            return PluginConfig(**merged, resource_meta=config.resource_meta)
        except ValueError as exc:
            raise PluginLoadError(
                f"plugin {plugin_id!r}: override in {self.settings.plugin_config}: {exc}"
            ) from exc

    @staticmethod
    def quota_namespace(plugin_id: str, namespace: str) -> ResourceNamespace:
        """The ResourceManager namespace of a plugin's quota: ``<plugin id>:<namespace>``."""
        return ResourceNamespace(plugin_id).create_sub_namespace(namespace)

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
        names: list[str] = []
        for plugin_id in self.registry.ids:
            names.append(self.queue(plugin_id))
            try:
                loaded = self.plugin(plugin_id)
            except Exception as exc:
                log.error(
                    "plugin %s failed to load; only its default queue is used: %s", plugin_id, exc
                )
                continue
            names.extend(self.queue(plugin_id, ns) for ns in sorted(loaded.config.resource_quotas))
        return names

    def limiter(self, plugin_id: str, kind: str) -> RedisRateLimiter:
        """The plugin's global ``"read"`` (Get) or ``"write"`` (Create, Delete, Do) limiter."""
        key = f"{plugin_id}:{kind}"
        with self._lock:
            limiter = self._limiters.get(key)
            if limiter is None:
                config = self.plugin(plugin_id).config
                limits = config.read_rate_limiter if kind == "read" else config.write_rate_limiter
                limiter = RedisRateLimiter.from_config(
                    self.redis, f"{self.settings.key_prefix}:limit:{key}", limits
                )
                self._limiters[key] = limiter
            return limiter

    # -- contexts ------------------------------------------------------------------------------

    def attempt_output_prefix(self, record: ExecutionRecord, attempt: int | None = None) -> str:
        """``<output prefix>/<attempt>``: where an attempt's outputs and errors go."""
        return join_reference(
            record.output_prefix, str(record.attempt if attempt is None else attempt)
        )

    def task_execution_id(self, record: ExecutionRecord) -> TaskExecutionID:
        """The identity (and generated name) of the record's current attempt."""
        return TaskExecutionID.create(
            project=record.project,
            domain=record.domain,
            name=record.name,
            attempt=record.attempt,
            task_name=record.task_type,
        )

    def attempt_context(self, record: ExecutionRecord) -> AttemptContext:
        """The context plugin methods get for the record's current attempt."""
        tid = self.task_execution_id(record)
        raw_base = join_reference(self.settings.storage, "raw")
        paths = RemoteFileOutputPaths(
            self.attempt_output_prefix(record),
            attempt_raw_output_prefix(raw_base, tid),
            previous_checkpoint_path(raw_base, tid),
        )
        writer = BufferedOutputWriter(paths)
        context = TaskExecutionContext(
            task_execution_metadata=TaskExecutionMetadata(
                task_execution_id=tid,
                namespace=f"{record.project}-{record.domain}",
                owner_id=record.name,
                max_attempts=record.retries + 1,
            ),
            task_reader=TaskReader(self.data_store, record.template_uri),
            input_reader=RemoteFileInputReader(self.data_store, record.inputs_uri),
            output_writer=writer,
            secret_manager=self.secret_manager,
            data_store=self.data_store,
        )
        return AttemptContext(context, writer, paths)

    def output_reader(self, record: ExecutionRecord) -> RemoteFileOutputReader:
        """Reads the outputs or error of the record's current attempt from storage."""
        paths = RemoteFileOutputPaths(self.attempt_output_prefix(record))
        return RemoteFileOutputReader(self.data_store, paths)

    @property
    def _tokens_key(self) -> str:
        return f"{self.settings.key_prefix}:tokens"

    def note_token(self, token: str, execution_id: str) -> None:
        """Remember which execution a quota token belongs to (for renewal and leak repair)."""
        self.redis.hset(self._tokens_key, token, execution_id)

    def forget_token(self, token: str) -> None:
        """Drop the owner note of a token that was not granted."""
        self.redis.hdel(self._tokens_key, token)

    def token_owners(self, tokens: list[str]) -> list[str | None]:
        """The execution each token belongs to, if known."""
        if not tokens:
            return []
        values = self.redis.hmget(self._tokens_key, tokens)
        return [None if v is None else decode(v) for v in values]

    def release_token(self, record: ExecutionRecord) -> None:
        """Release the quota token the record's attempt holds (idempotent; Flyte's finalize)."""
        if record.token_namespace is None:
            return
        token = self.task_execution_id(record).generated_name
        self.resource_manager.release_resource(record.token_namespace, token)
        self.redis.hdel(self._tokens_key, token)

    def release_orphan(self, namespace: str, token: str) -> None:
        """Release a token whose execution no longer holds it."""
        self.resource_manager.release_resource(namespace, token)
        self.redis.hdel(self._tokens_key, token)

    def queue_for(self, record: ExecutionRecord) -> str:
        """The queue of the record's jobs: its plugin's, by quota namespace."""
        namespace = None
        prefix = f"{record.plugin_id}:"
        if record.token_namespace and record.token_namespace.startswith(prefix):
            namespace = record.token_namespace[len(prefix) :]
        return self.queue(record.plugin_id, namespace)

    @property
    def _wake_key(self) -> str:
        return f"{self.settings.key_prefix}:wake"

    def wake_scheduler(self) -> None:
        """Tell the scheduler there is work now (it blocks on this list between ticks)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self._wake_key, 1)
        pipe.ltrim(self._wake_key, 0, 0)  # one pending wake-up is as good as many
        pipe.execute()

    def wait_for_wake(self, seconds: float) -> bool:
        """Block until :meth:`wake_scheduler` is called or ``seconds`` pass; whether woken."""
        return self.redis.blpop([self._wake_key], timeout=max(0.001, seconds)) is not None
