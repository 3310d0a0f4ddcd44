"""The web-API plugin contract: :class:`AsyncPlugin`, :class:`SyncPlugin` and their entry.

An :class:`AsyncPlugin` manages a remote job: ``create`` starts it (once per
attempt; key it on the generated name, since a call may be repeated),
``get`` polls it, ``status`` maps what ``get`` returned to a
:class:`~plugins.core.PhaseInfo`, and ``delete`` stops it on abort. A
:class:`SyncPlugin` does its work in one ``do`` call.

Authors may write every method as ``def`` or ``async def``; :func:`call_async`
and :func:`call_sync` run either kind. Errors are raised, never returned.

In a worker process, up to ``caching.workers`` calls of one plugin run at once: plain
``def`` methods each on a thread of the process, so they must be thread-safe (share a
thread-safe client, or keep one per thread); ``async def`` methods on the process's one
event loop, which outlives jobs, so an async client made on first use serves them all
(see ``scheduler._runtime.PluginCalls``).
"""

from __future__ import annotations

import asyncio
import inspect
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, cast

from flyteidl.core import interface_pb2

from plugins.core.phase_info import PhaseInfo
from plugins.core.plugin import PluginSetupContext, call_loader
from plugins.core.resources import ResourceConstraintsSpec, ResourceNamespace
from plugins.errors import PluginLoadError
from plugins.webapi.config import DEFAULT_PLUGIN_CONFIG, PluginConfig
from plugins.webapi.context import (
    DeleteContext,
    GetContext,
    MetaT,
    ResourceT,
    StatusContext,
    TaskExecutionContext,
    TaskExecutionContextReader,
)

__all__ = [
    "DEFAULT_RESOURCE_NAMESPACE",
    "AsyncPlugin",
    "MaybeAwaitable",
    "PluginEntry",
    "SyncPlugin",
    "WebAPIPlugin",
    "call_async",
    "call_sync",
]

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]

DEFAULT_RESOURCE_NAMESPACE = ResourceNamespace("default")


class AsyncPlugin(ABC, Generic[MetaT, ResourceT]):
    """A plugin that creates a remote job, polls it and deletes it on abort.

    Type parameters: ``MetaT`` is the handle ``create`` returns (persisted as JSON,
    see :attr:`PluginConfig.resource_meta`); ``ResourceT`` is what ``get`` returns.
    """

    def get_config(self) -> PluginConfig:
        """Quotas, rate limits and polling; Flyte's defaults unless overridden."""
        return DEFAULT_PLUGIN_CONFIG

    def resource_requirements(
        self, ctx: TaskExecutionContextReader
    ) -> MaybeAwaitable[tuple[ResourceNamespace, ResourceConstraintsSpec]]:
        """The quota namespace and caps of an attempt. Must be deterministic.

        It is called before ``create`` and again when the token is released. The
        default is the ``default`` namespace without caps.
        """
        del ctx
        return DEFAULT_RESOURCE_NAMESPACE, ResourceConstraintsSpec()

    @abstractmethod
    def create(
        self, ctx: TaskExecutionContextReader
    ) -> MaybeAwaitable[tuple[MetaT, ResourceT | None]]:
        """Start the remote job; return ``(handle, resource or None)``.

        Called at least once per attempt: make it idempotent on
        ``ctx.task_execution_metadata.task_execution_id.generated_name``. Returning a
        resource as well lets ``status`` finish the attempt at once (sync-style
        jobs). An exception is a retryable failure of the attempt.
        """

    @abstractmethod
    def get(self, ctx: GetContext[MetaT]) -> MaybeAwaitable[ResourceT]:
        """Fetch the latest state of the remote job. May be batched; sees only the handle."""

    @abstractmethod
    def delete(self, ctx: DeleteContext[MetaT]) -> MaybeAwaitable[None]:
        """Stop the remote job.

        ``ctx.resource_meta`` is ``None`` if ``create`` never succeeded. Called at
        least once: a job that is already gone is fine.
        """

    @abstractmethod
    def status(self, ctx: StatusContext[MetaT, ResourceT]) -> MaybeAwaitable[PhaseInfo]:
        """Map the latest resource to a PhaseInfo. Cheap, no network calls.

        On success, put the outputs into ``ctx.output_writer``. Bump the phase
        version whenever the information within a phase changes.
        """


class SyncPlugin(ABC):
    """A plugin that does its work in one call."""

    def get_config(self) -> PluginConfig:
        """Rate limits (the write limiter applies to ``do``); Flyte's defaults unless overridden."""
        return DEFAULT_PLUGIN_CONFIG

    @abstractmethod
    def do(self, ctx: TaskExecutionContext) -> MaybeAwaitable[PhaseInfo]:
        """Run the task; put outputs into ``ctx.output_writer`` and return a terminal PhaseInfo."""


WebAPIPlugin: TypeAlias = AsyncPlugin[Any, Any] | SyncPlugin


async def call_async(fn: Callable[..., MaybeAwaitable[T]], *args: Any) -> T:
    """Await an ``async def`` method, or run a plain one in a worker thread.

    Plain methods go to a thread so that a batch of blocking calls still runs
    concurrently and never blocks the event loop.
    """
    if inspect.iscoroutinefunction(fn):
        return await cast(Awaitable[T], fn(*args))
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def call_sync(fn: Callable[..., MaybeAwaitable[T]], *args: Any) -> T:
    """Call a plain or ``async def`` method from synchronous code.

    Raises:
        RuntimeError: ``fn`` is async and this thread already runs an event loop
            (use :func:`call_async` there).
    """
    result = fn(*args)
    if not inspect.isawaitable(result):
        return result

    async def _await() -> T:
        return await cast(Awaitable[T], result)

    return _run(_await())


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # asyncio.run, except when the call is cut off (Celery's soft time limit raises in
    # this thread) or fails: then threads the call left blocked (asyncio.to_thread) are
    # not waited for. They end by themselves; the worker slot is needed now.
    loop = asyncio.new_event_loop()
    clean = False
    try:
        value = loop.run_until_complete(coroutine)
        clean = True
        return value
    finally:
        try:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                gathered = asyncio.gather(*pending, return_exceptions=True)
                loop.run_until_complete(gathered)
            loop.run_until_complete(loop.shutdown_asyncgens())
            if clean:
                loop.run_until_complete(loop.shutdown_default_executor())
            else:
                executor = getattr(loop, "_default_executor", None)
                if executor is not None:
                    executor.shutdown(wait=False, cancel_futures=True)
        finally:
            loop.close()


def _is_async_plugin(obj: object) -> bool:
    return isinstance(obj, AsyncPlugin) or all(
        callable(getattr(obj, m, None)) for m in ("get_config", "create", "get", "delete", "status")
    )


def _is_sync_plugin(obj: object) -> bool:
    return isinstance(obj, SyncPlugin) or all(
        callable(getattr(obj, m, None)) for m in ("get_config", "do")
    )


@dataclass(frozen=True)
class PluginEntry:
    """Registers a web-API plugin: Flyte's ``webapi.PluginEntry``.

    A core plugin registers with :class:`plugins.core.PluginEntry` (Flyte's
    ``core.PluginEntry``) instead. The two keep Flyte's names and fields, so a plugin
    ported from Go reads the same; the registry takes either.

    Attributes:
        id: Unique plugin id; also names its queues and quota namespaces.
        supported_task_types: The task types it handles.
        plugin_loader: Builds the plugin; takes a
            :class:`~plugins.core.PluginSetupContext` or no argument. Called once,
            lazily, before first use.
        is_default: Handle task types that no plugin registered.
        default_for_task_types: Task types, among ``supported_task_types``, for which
            this plugin wins when several plugins register them.
        task_interface: The inputs and outputs every task of these types takes, when
            the plugin fixes them (``core-sleep``: one ``duration``). ``flyte-celery
            submit --type`` then checks inputs against it; ``None``: any.
    """

    id: str
    supported_task_types: Sequence[str]
    plugin_loader: Callable[..., WebAPIPlugin]
    is_default: bool = False
    default_for_task_types: Sequence[str] = ()
    task_interface: interface_pb2.TypedInterface | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "supported_task_types", tuple(self.supported_task_types))
        object.__setattr__(self, "default_for_task_types", tuple(self.default_for_task_types))

    @property
    def task_types(self) -> tuple[str, ...]:
        """The task types this entry handles."""
        return tuple(self.supported_task_types)

    def load(self, setup: PluginSetupContext) -> WebAPIPlugin:
        """Build the plugin, check its config, register its quotas (Go's ``CreateRemotePlugin``).

        Raises:
            PluginLoadError: The loader failed or returned something that is not a
                web-API plugin, or its config is invalid.
        """
        plugin = call_loader(self.plugin_loader, setup, self.id)
        if not (_is_async_plugin(plugin) or _is_sync_plugin(plugin)):
            raise PluginLoadError(
                f"plugin {self.id!r}: loader returned {type(plugin).__name__}, which is neither "
                "an AsyncPlugin (create/get/delete/status) nor a SyncPlugin (do)"
            )
        config = plugin.get_config()
        if not isinstance(config, PluginConfig):
            raise PluginLoadError(
                f"plugin {self.id!r}: get_config() returned {type(config).__name__}, "
                "not a PluginConfig"
            )
        try:
            config.validate_ranges()
        except ValueError as exc:
            raise PluginLoadError(f"plugin {self.id!r}: config validation failed: {exc}") from exc
        if setup.resource_registrar is not None:
            for namespace, quota in config.resource_quotas.items():
                setup.resource_registrar.register_resource_quota(
                    ResourceNamespace(namespace), quota
                )
        return cast(WebAPIPlugin, plugin)
