"""Flyte 2's connectors served in process, beside flytekit's.

Every ``flyte.connectors.AsyncConnector`` in Flyte 2's ``ConnectorRegistry`` becomes the
plugin ``flyte2-connectors`` for its task type: those its packages register through
Flyte 2's own entry points (group ``flyte.connectors``, as Flyte 2's ``ConnectorService``
loads them) and those of the modules named in ``FLYTE_CELERY_CONNECTOR_MODULES``. A task
type that flytekit's connectors serve stays theirs.

A call gets what Flyte 2's connector service would give it: the flyteidl2 template (with
Propeller's container variables rendered), the inputs as Python values (typed from the
template's interface by Flyte 2's type engine), the output prefix, the attempt's metadata,
and the secrets the template names (``custom.secrets``: keyword to secret name), looked up
as every secret of a task is, among the worker's configured secrets (``_FSEC_<NAME>``
variables, ``/etc/secrets``), never its other variables. Its ``Resource`` maps to phases as a
flytekit connector's does (:mod:`plugins.flytekit.status`), and its outputs are written as the
task's. Calls run on the process's one event loop.

Without Flyte 2 installed (the ``flyte-celery[flyte2]`` extra), :func:`flyte2_entries`
registers nothing.
"""

from __future__ import annotations

# ruff: noqa: PLC0415 - Flyte 2 is imported inside the calls: the core runs without it
import base64
import importlib
import inspect
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from flyteidl.admin import agent_pb2
from flyteidl.core import literals_pb2

from plugins.core import PhaseInfo, PluginSetupContext
from plugins.core.secrets import SecretManager
from plugins.errors import SecretNotFoundError
from plugins.flytekit.connectors import ConnectorHandle, import_connector_modules
from plugins.flytekit.loop import run_on_loop
from plugins.flytekit.requests import rendered_template, task_execution_metadata
from plugins.flytekit.status import resource_status
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)

__all__ = ["PLUGIN_ID", "Flyte2ConnectorPlugin", "Flyte2Handle", "flyte2_entries"]

log = logging.getLogger(__name__)

PLUGIN_ID = "flyte2-connectors"


@dataclass(frozen=True)
class Flyte2Handle(ConnectorHandle):
    """A flytekit connector's handle, and the secrets the connector's calls get.

    Attributes:
        secrets: The names of the template's secrets, by keyword (never their values).
    """

    secrets: dict[str, str] = field(default_factory=dict)


def _connector(task_type: str, version: int) -> Any:
    from flyte.connectors import ConnectorRegistry

    return ConnectorRegistry.get_connector(task_type, version)


def _secret_names(template: Any) -> dict[str, str]:
    """The template's ``custom.secrets``: keyword argument to secret name."""
    from google.protobuf import json_format

    custom = json_format.MessageToDict(template.custom)
    secrets = custom.get("secrets") or {}
    return {str(k): str(v) for k, v in secrets.items()} if isinstance(secrets, dict) else {}


def _secrets(names: dict[str, str], manager: SecretManager) -> dict[str, str]:
    """The secrets' values, from the worker's configured secrets (never its other variables).

    Raises:
        SecretNotFoundError: One is not configured; the message names where it was looked for.
    """
    values = {}
    for keyword, name in names.items():
        try:
            values[keyword] = manager.get(name)
        except SecretNotFoundError as exc:
            raise SecretNotFoundError(
                f"the connector's secret {keyword!r} ({name!r}): {exc.message}"
            ) from None
    return values


async def _native_inputs(template: Any, inputs: literals_pb2.LiteralMap) -> dict[str, Any]:
    """The inputs as Python values, typed from the template as Flyte 2's service types them."""
    from flyte._internal.runtime.convert import Inputs, convert_from_inputs_to_native
    from flyte.models import NativeInterface
    from flyte.types import TypeEngine

    from plugins.flyte2.idl import inputs_v2

    types: dict[str, tuple[type[Any], Any]] = {
        entry.key: (TypeEngine.guess_python_type(entry.value.type), inspect.Parameter.empty)
        for entry in template.interface.inputs.variables
    }
    interface = NativeInterface.from_types(inputs=types, outputs={})
    native: dict[str, Any] = await convert_from_inputs_to_native(
        interface, Inputs(proto_inputs=inputs_v2(inputs))
    )
    return native


async def _resource_proto(call: Coroutine[Any, Any, Any]) -> Any:
    """The ``Resource`` a connector's call returns, as flyteidl2's message."""
    from flyte.connectors._connector import get_resource_proto

    return await get_resource_proto(await call)


class Flyte2ConnectorPlugin(AsyncPlugin[Flyte2Handle, agent_pb2.Resource]):
    """Flyte 2's async connectors: Create, Get (backing off), Delete on abort.

    Args:
        setup: Its setup context; the connectors' secrets come from its secret manager.
    """

    def __init__(self, setup: PluginSetupContext | None = None) -> None:
        self._secret_manager = (setup or PluginSetupContext()).secret_manager

    def get_config(self) -> PluginConfig:
        """Flyte's defaults, a 5 s resync (as flytekit's connectors), the handle as JSON."""
        return PluginConfig(resource_meta=Flyte2Handle, caching={"resyncInterval": "5s"})

    def create(self, ctx: TaskExecutionContextReader) -> tuple[Flyte2Handle, None]:
        """The connector's ``create``; its resource meta becomes the handle.

        Raises:
            SecretNotFoundError: A secret the template names is not configured.
        """
        from flyteidl2.connector import connector_pb2

        from plugins.flyte2.idl import as_v2, template_v2

        template = template_v2(rendered_template(ctx))
        connector = _connector(template.type, template.task_type_version)
        variables = _secret_names(template)
        secrets = _secrets(variables, self._secret_manager)
        output_prefix = ctx.output_writer.get_output_prefix_path()
        metadata = as_v2(task_execution_metadata(ctx), connector_pb2.TaskExecutionMetadata)

        async def create() -> Any:
            inputs = await _native_inputs(template, ctx.input_reader.get())
            return await connector.create(
                task_template=template,
                output_prefix=output_prefix,
                inputs=inputs,
                task_execution_metadata=metadata,
                **secrets,
            )

        meta = run_on_loop(create())
        encoded = base64.b64encode(meta.encode()).decode()
        handle = Flyte2Handle(
            template.type, template.task_type_version, encoded, output_prefix, variables
        )
        return handle, None

    def _bound(self, handle: Flyte2Handle) -> tuple[Any, Any, dict[str, str]]:
        """The handle's connector, its decoded resource meta, and the secrets its calls get."""
        connector = _connector(handle.task_type, handle.task_type_version)
        meta = connector.metadata_type.decode(base64.b64decode(handle.resource_meta))
        return connector, meta, _secrets(handle.secrets, self._secret_manager)

    def get(self, ctx: GetContext[Flyte2Handle]) -> agent_pb2.Resource:
        """The connector's ``get``, as flyteidl 1's ``Resource``."""
        from plugins.flyte2.idl import resource_v1

        connector, meta, secrets = self._bound(ctx.resource_meta)
        return resource_v1(
            run_on_loop(_resource_proto(connector.get(resource_meta=meta, **secrets)))
        )

    def delete(self, ctx: DeleteContext[Flyte2Handle]) -> None:
        """The connector's ``delete``; nothing to do if Create never succeeded."""
        if ctx.resource_meta is None:
            return
        connector, meta, secrets = self._bound(ctx.resource_meta)
        run_on_loop(connector.delete(resource_meta=meta, **secrets))

    def status(self, ctx: StatusContext[Flyte2Handle, agent_pb2.Resource]) -> PhaseInfo:
        """Propeller's mapping; on success, the outputs the connector returned."""
        return resource_status(ctx, ctx.resource)


def _import_connectors() -> bool:
    """Import Flyte 2, its connectors' entry points and the configured modules."""
    try:
        importlib.import_module("flyte.connectors")
    except ImportError:
        return False
    from importlib.metadata import entry_points

    for point in entry_points(group="flyte.connectors"):
        try:
            point.load()
        except Exception as exc:  # one broken package fails only the types it would serve
            log.error("cannot load Flyte 2 connector %r: %s", point.name, exc)
    import_connector_modules()
    return True


def flyte2_entries() -> list[PluginEntry]:
    """The plugin entry of the Flyte 2 connectors here (none without Flyte 2 installed).

    Task types that flytekit's connectors serve here stay theirs.
    """
    if not _import_connectors():
        return []
    from flyte.connectors import ConnectorRegistry

    from plugins.flytekit.connectors import connector_entries

    taken = {t for entry in connector_entries() for t in entry.supported_task_types}
    types = sorted({key.task_type_name for key in ConnectorRegistry._REGISTRY} - taken)
    # Registered even with no task type here: a scheduler or client without the connector
    # modules routes the types that workers serve with it to this plugin by its id.
    return [PluginEntry(PLUGIN_ID, types, Flyte2ConnectorPlugin)]
