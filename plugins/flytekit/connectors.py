"""flytekit's connectors served in process: Flyte's connectors without Kubernetes.

Every connector registered in the worker's flytekit becomes a flyte-celery plugin:
``import flytekit`` registers ``sensor`` (FileSensor), ``flytekit.extras.webhook``
registers ``webhook``, and the modules named in ``FLYTE_CELERY_CONNECTOR_MODULES``
(comma-separated, e.g. ``flytekitplugins.bigquery``) register theirs. Async connectors
run through Create, Get and Delete (plugin ``flytekit-connectors``), sync ones through
one call (plugin ``flytekit-sync-connectors``). Their calls get flytekit's own models
(``TaskTemplate``, ``LiteralMap``, ``TaskExecutionMetadata``) as flytekit's connector
service passes them, run on the process's one event loop, and their ``Resource`` is
mapped as Propeller maps it (:mod:`plugins.flytekit.status`). Outputs a connector
returns (literals, or Python values flytekit converts) are written as the task's
outputs; one that wrote ``outputs.pb`` itself needs nothing more.

Without flytekit installed, :func:`connector_entries` registers nothing.
"""

from __future__ import annotations

import base64
import importlib
import logging
import os
from dataclasses import dataclass
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core import tasks_pb2

from plugins.core import PhaseInfo
from plugins.flytekit.loop import run_on_loop
from plugins.flytekit.requests import rendered_template, task_execution_metadata
from plugins.flytekit.status import resource_status
from plugins.flytekit.tidy import remove_temporary_folders_at_exit
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    SyncPlugin,
    TaskExecutionContext,
    TaskExecutionContextReader,
)

__all__ = [
    "MODULES_VARIABLE",
    "ConnectorHandle",
    "ConnectorPlugin",
    "SyncConnectorPlugin",
    "connector_entries",
    "import_connector_modules",
]

log = logging.getLogger(__name__)

MODULES_VARIABLE = "FLYTE_CELERY_CONNECTOR_MODULES"
_BUILT_IN = ("flytekit", "flytekit.extras.webhook")


@dataclass(frozen=True)
class ConnectorHandle:
    """What an async connector's Create left: enough for Get and Delete in any worker.

    Attributes:
        task_type: The connector's task type.
        task_type_version: Its version.
        resource_meta: The connector's ``ResourceMeta.encode()``, base64.
        output_prefix: Where the attempt's outputs go.
    """

    task_type: str
    task_type_version: int
    resource_meta: str
    output_prefix: str


def _connector(task_type: str, version: int) -> Any:
    from flytekit.extend.backend.base_connector import ConnectorRegistry  # noqa: PLC0415 - optional

    return ConnectorRegistry.get_connector(task_type, version)


async def _call(method: Any, **kwargs: Any) -> Any:
    from flytekit.extend.backend.base_connector import mirror_async_methods  # noqa: PLC0415 - optional

    return await mirror_async_methods(method, **kwargs)


def _models(ctx: TaskExecutionContextReader) -> tuple[tasks_pb2.TaskTemplate, dict[str, Any]]:
    """The template, and flytekit's models of it and the inputs, as its service passes them."""
    from flytekit.models.literals import LiteralMap  # noqa: PLC0415 - optional
    from flytekit.models.task import TaskTemplate  # noqa: PLC0415 - optional

    template = rendered_template(ctx)
    inputs = ctx.input_reader.get()
    return template, {
        "task_template": TaskTemplate.from_flyte_idl(template),
        # Always a map, empty when there are no inputs, as flytekit's own service passes it
        # (a connector may read `inputs.literals` unguarded: WebhookTask does).
        "inputs": LiteralMap.from_flyte_idl(inputs),
        "output_prefix": ctx.output_writer.get_output_prefix_path(),
    }


def _metadata(ctx: TaskExecutionContextReader) -> Any:
    from flytekit.models.task import TaskExecutionMetadata  # noqa: PLC0415 - optional

    return TaskExecutionMetadata.from_flyte_idl(task_execution_metadata(ctx))


async def _resource_proto(resource: Any) -> agent_pb2.Resource:
    proto: agent_pb2.Resource = await resource.to_flyte_idl()
    return proto


class ConnectorPlugin(AsyncPlugin[ConnectorHandle, agent_pb2.Resource]):
    """Async flytekit connectors: Create, Get every resync interval, Delete on abort."""

    def get_config(self) -> PluginConfig:
        """Flyte's defaults, with the handle encoded as JSON."""
        return PluginConfig(resource_meta=ConnectorHandle, caching={"resyncInterval": "5s"})

    def create(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ConnectorHandle, agent_pb2.Resource | None]:
        """The connector's ``create``; its resource meta becomes the handle."""
        template, kwargs = _models(ctx)
        connector = _connector(template.type, template.task_type_version)
        meta = run_on_loop(
            _call(connector.create, task_execution_metadata=_metadata(ctx), **kwargs)
        )
        encoded = base64.b64encode(meta.encode()).decode()
        handle = ConnectorHandle(
            template.type, template.task_type_version, encoded, kwargs["output_prefix"]
        )
        return handle, None

    def _meta(self, handle: ConnectorHandle) -> tuple[Any, Any]:
        connector = _connector(handle.task_type, handle.task_type_version)
        return connector, connector.metadata_type.decode(base64.b64decode(handle.resource_meta))

    def get(self, ctx: GetContext[ConnectorHandle]) -> agent_pb2.Resource:
        """The connector's ``get``, as flyteidl's ``Resource``."""
        connector, meta = self._meta(ctx.resource_meta)

        async def get() -> agent_pb2.Resource:
            return await _resource_proto(await _call(connector.get, resource_meta=meta))

        return run_on_loop(get())

    def delete(self, ctx: DeleteContext[ConnectorHandle]) -> None:
        """The connector's ``delete``; nothing to do if Create never succeeded."""
        if ctx.resource_meta is None:
            return
        connector, meta = self._meta(ctx.resource_meta)
        run_on_loop(_call(connector.delete, resource_meta=meta))

    def status(self, ctx: StatusContext[ConnectorHandle, agent_pb2.Resource]) -> PhaseInfo:
        """Propeller's mapping; on success, the outputs the connector returned."""
        return resource_status(ctx, ctx.resource)


class SyncConnectorPlugin(SyncPlugin):
    """Sync flytekit connectors (``webhook``...): one ``do`` call."""

    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        """The connector's ``do``; its resource ends the attempt."""
        template, kwargs = _models(ctx)
        connector = _connector(template.type, template.task_type_version)

        async def do() -> agent_pb2.Resource:
            return await _resource_proto(await _call(connector.do, **kwargs))

        resource = run_on_loop(do())
        return resource_status(ctx, resource)


def _import_connector_modules() -> bool:
    """Import flytekit and the configured connector modules; whether flytekit is there."""
    try:
        importlib.import_module("flytekit")
    except ImportError:
        return False
    remove_temporary_folders_at_exit()
    import_connector_modules(*_BUILT_IN[1:])
    return True


def import_connector_modules(*first: str) -> None:
    """Import ``first``, then the modules of ``FLYTE_CELERY_CONNECTOR_MODULES``.

    Their connectors register as they are imported (flytekit's or Flyte 2's registry). A
    module that fails to import is logged and skipped: it fails only the task types it
    would have served.
    """
    configured = [m.strip() for m in os.environ.get(MODULES_VARIABLE, "").split(",") if m.strip()]
    for module in (*first, *configured):
        try:
            importlib.import_module(module)
        except Exception as exc:
            log.error("%s: cannot import connector module %r: %s", MODULES_VARIABLE, module, exc)


def connector_entries() -> list[PluginEntry]:
    """The plugin entries of every connector registered in this process's flytekit."""
    if not _import_connector_modules():
        return []
    from flytekit.extend.backend.base_connector import ConnectorRegistry, SyncConnectorBase  # noqa: PLC0415 - optional

    sync_types: set[str] = set()
    async_types: set[str] = set()
    for category, connector in ConnectorRegistry._REGISTRY.items():
        (sync_types if isinstance(connector, SyncConnectorBase) else async_types).add(category.name)
    entries = []
    if async_types:
        entries.append(PluginEntry("flytekit-connectors", sorted(async_types), ConnectorPlugin))
    if sync_types:
        entries.append(
            PluginEntry("flytekit-sync-connectors", sorted(sync_types), SyncConnectorPlugin)
        )
    return entries
