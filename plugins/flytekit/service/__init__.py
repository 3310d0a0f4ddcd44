"""Flyte connectors over gRPC: the ``connector-service`` plugin (Propeller's, without Kubernetes).

- :mod:`.config`: its settings, with Propeller's keys;
- :mod:`.calls`: the gRPC calls, with a deadline each;
- :mod:`.discovery`: ``ListAgents`` on every deployment, every ``pollInterval``;
- :mod:`.plugin`: the plugin: routing, Create/Get/Delete, ExecuteTaskSync.

It needs ``grpcio`` (the ``flyte-celery[flytekit]`` extra); without it,
:func:`connector_service_entries` registers nothing.
"""

from __future__ import annotations

import importlib

from plugins.webapi import PluginEntry

__all__ = ["connector_service_entries"]


def connector_service_entries() -> list[PluginEntry]:
    """The ``connector-service`` entry, when gRPC is installed.

    It registers no task types of its own: the scheduler asks the loaded plugin
    which types it claims (pinned, listed, discovered).
    """
    try:
        importlib.import_module("grpc")
    except ImportError:
        return []
    from plugins.flytekit.service.plugin import PLUGIN_ID, load  # noqa: PLC0415 - needs grpc

    return [PluginEntry(PLUGIN_ID, [], load)]
