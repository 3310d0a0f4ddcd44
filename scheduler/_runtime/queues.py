"""Queue names: every plugin's default queue, and one per quota namespace.

Every plugin has a default queue ``<queue prefix>.<plugin id>``, and one more per quota
namespace, ``<queue prefix>.<plugin id>.<namespace>``. Jobs of an execution go to its
namespace's queue, so a worker can be dedicated to one (``celery -A worker worker -Q``).
"""

from __future__ import annotations

from scheduler._model import ExecutionRecord
from scheduler._runtime.plugins import PluginSet

__all__ = ["Queues"]


class Queues:
    """The Celery queues of one deployment's plugins.

    Args:
        prefix: ``FLYTE_CELERY_QUEUE_PREFIX``.
        plugins: The process's plugins (their ids and quota namespaces).
    """

    def __init__(self, prefix: str, plugins: PluginSet) -> None:
        self._prefix = prefix
        self._plugins = plugins

    def name(self, plugin_id: str, namespace: str | None = None) -> str:
        """The queue for a plugin's jobs in ``namespace`` (its default queue if None)."""
        base = f"{self._prefix}.{plugin_id}"
        return base if namespace is None else f"{base}.{namespace}"

    def all(self) -> list[str]:
        """Every queue: each plugin's default queue and one per quota namespace.

        A plugin that fails to load still gets its default queue, so its jobs are
        consumed and fail its executions with the load error instead of piling up.
        """
        loadable = {loaded.id: loaded for loaded in self._plugins.loadable()}
        names: list[str] = []
        for plugin_id in self._plugins.ids:
            names.append(self.name(plugin_id))
            if plugin_id in loadable:
                quotas = loadable[plugin_id].config.resource_quotas
                names.extend(self.name(plugin_id, ns) for ns in sorted(quotas))
        return names

    def of(self, plugin_id: str, token_namespace: str | None) -> str:
        """The queue of jobs of ``plugin_id`` whose attempt holds a token of ``token_namespace``."""
        namespace = None
        prefix = f"{plugin_id}:"
        if token_namespace and token_namespace.startswith(prefix):
            namespace = token_namespace[len(prefix) :]
        return self.name(plugin_id, namespace)

    def of_record(self, record: ExecutionRecord) -> str:
        """The queue of the record's jobs: its plugin's, by quota namespace."""
        return self.of(record.plugin_id, record.token_namespace)
