"""The views of an attempt that web-API plugin methods receive (Go's ``webapi/plugin.go``).

- ``resource_requirements`` and ``create`` get a :class:`TaskExecutionContextReader`;
- ``get`` gets only the handle (:class:`GetContext`), so it can run anywhere, batched;
- ``delete`` gets the handle, which is ``None`` when ``create`` never succeeded, and
  the reason (:class:`DeleteContext`);
- ``status`` gets everything plus the handle and the latest resource (:class:`StatusContext`);
- a sync plugin's ``do`` gets a :class:`TaskExecutionContext`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from plugins.core.metadata import TaskExecutionMetadata, TaskReader
from plugins.core.secrets import EnvSecretManager, SecretManager
from plugins.io.datastore import DataStore
from plugins.io.interfaces import InputReader, OutputWriter

__all__ = [
    "NEVER_CANCELLED",
    "DeleteContext",
    "GetContext",
    "MetaT",
    "ResourceT",
    "StatusContext",
    "TaskExecutionContext",
    "TaskExecutionContextReader",
]

MetaT = TypeVar("MetaT")
"""The type of a plugin's resource handle (what ``create`` returns and ``get`` takes)."""

ResourceT = TypeVar("ResourceT")
"""The type of what ``get`` returns."""


@dataclass(frozen=True, kw_only=True)
class TaskExecutionContextReader:
    """Read access to an attempt.

    Attributes:
        task_execution_metadata: Identity (with the generated name), labels, overrides.
        task_reader: Reads the ``TaskTemplate``.
        input_reader: Reads the inputs.
        output_writer: Where outputs or an error go.
        secret_manager: Secrets the plugin may read.
    """

    task_execution_metadata: TaskExecutionMetadata
    task_reader: TaskReader
    input_reader: InputReader
    output_writer: OutputWriter
    secret_manager: SecretManager = field(default_factory=EnvSecretManager)


class _NeverCancelled(threading.Event):
    """The ``cancelled`` of a context whose call is not watched (Create, Get, Status...).

    One shared instance: a context is made per execution per poll, and a new Event (a lock
    and a condition) each time was a seventh of a Get's cost in the worker.
    """

    def set(self) -> None:
        """Refused: only the worker cancels, and only a sync call it watches."""
        raise RuntimeError("this context's call is not watched and cannot be cancelled")


NEVER_CANCELLED: threading.Event = _NeverCancelled()
"""The default ``cancelled`` of a context: never set (a watched sync call gets its own)."""


@dataclass(frozen=True, kw_only=True)
class TaskExecutionContext(TaskExecutionContextReader):
    """A :class:`TaskExecutionContextReader` plus the blob store.

    Flyte's ``webapi.TaskExecutionContext``: what a web-API plugin's Create sees. A core
    plugin gets :class:`plugins.core.TaskExecutionContext` (Flyte's
    ``core.TaskExecutionContext``), which has more: the resource manager, plugin state.

    Attributes:
        data_store: The blob store, with the process's storage options.
        cancelled: Set while a sync call runs when the attempt no longer wants its answer
            (aborted, timed out). A long call should stop then; its late answer is dropped
            either way. Other calls get :data:`NEVER_CANCELLED`.
    """

    data_store: DataStore
    cancelled: threading.Event = NEVER_CANCELLED


@dataclass(frozen=True)
class GetContext(Generic[MetaT]):
    """What ``get`` sees: only the resource handle."""

    resource_meta: MetaT


@dataclass(frozen=True)
class DeleteContext(Generic[MetaT]):
    """What ``delete`` sees.

    Attributes:
        resource_meta: The handle, or ``None`` when ``create`` never succeeded.
        reason: Why the resource is deleted, e.g. ``"Aborted"``.
    """

    resource_meta: MetaT | None
    reason: str = "Aborted"


@dataclass(frozen=True, kw_only=True)
class StatusContext(TaskExecutionContext, Generic[MetaT, ResourceT]):
    """What ``status`` sees: the attempt, its handle and the latest resource."""

    resource_meta: MetaT
    resource: ResourceT
