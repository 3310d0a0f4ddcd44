"""Execution metadata and the task-template reader (Go's ``exec_metadata.go``, ``TaskReader``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flyteidl.core import security_pb2, tasks_pb2

from plugins.core.execution_id import TaskExecutionID

if TYPE_CHECKING:
    from plugins.io.datastore import DataReference, DataStore

__all__ = ["TaskExecutionMetadata", "TaskOverrides", "TaskReader"]


@dataclass(frozen=True)
class TaskOverrides:
    """Per-execution overrides of what the task template says.

    Attributes:
        resources: Resource requests and limits, e.g. ``{"cpu": "2", "memory": "4Gi"}``.
        extended_resources: flyteidl ``ExtendedResources`` (GPU accelerators, shared memory).
        container_image: An image to use instead of the template's.
        pod_template: A flyteidl ``K8sPod`` to use.
        config: Free-form key/value configuration for the plugin.
    """

    resources: Mapping[str, str] = field(default_factory=dict)
    extended_resources: tasks_pb2.ExtendedResources | None = None
    container_image: str = ""
    pod_template: tasks_pb2.K8sPod | None = None
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskExecutionMetadata:
    """Everything about an attempt that is not the template or the inputs.

    Attributes:
        task_execution_id: The attempt's identity and generated name.
        namespace: Where the task runs; Flyte's convention is ``<project>-<domain>``.
        owner_id: The owning execution's name.
        labels: Labels to put on remote resources.
        annotations: Annotations to put on remote resources.
        max_attempts: How many attempts the execution may make in all.
        service_account: The identity remote resources run as.
        security_context: flyteidl ``SecurityContext`` (run-as, secrets, tokens).
        interruptible: Whether the task may run on preemptible capacity.
        interruptible_failure_threshold: Attempts after which it stops being interruptible.
        environment_variables: Extra environment for the task.
        overrides: Per-execution overrides.
        console_url: A link to the execution in a UI, if any.
    """

    task_execution_id: TaskExecutionID
    namespace: str = ""
    owner_id: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    max_attempts: int = 1
    service_account: str = ""
    security_context: security_pb2.SecurityContext = field(
        default_factory=security_pb2.SecurityContext
    )
    interruptible: bool = False
    interruptible_failure_threshold: int = 0
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    overrides: TaskOverrides = field(default_factory=TaskOverrides)
    console_url: str = ""

    @property
    def project(self) -> str:
        """The execution's project."""
        return self.task_execution_id.project

    @property
    def domain(self) -> str:
        """The execution's domain."""
        return self.task_execution_id.domain

    def is_interruptible(self) -> bool:
        """Whether the task may run on preemptible capacity."""
        return self.interruptible


class TaskReader:
    """Reads the attempt's ``TaskTemplate`` from storage, once.

    With ``template`` given, the template is known in memory and is uploaded to
    ``path`` only when :meth:`path` is first asked for (Flyte's lazy-uploading
    reader); a failed upload is retried on the next call.

    Args:
        store: The blob store.
        path: Where the template (``task.pb``) lives.
        template: The template, when it is already in memory.
    """

    def __init__(
        self,
        store: DataStore,
        path: DataReference,
        template: tasks_pb2.TaskTemplate | None = None,
    ) -> None:
        self._store = store
        self._path = path
        self._template = template
        self._uploaded = template is None
        self._lock = threading.Lock()

    def read(self) -> tasks_pb2.TaskTemplate:
        """Return the template.

        Raises:
            RemoteFileNotFoundError: There is no template at the path.
            MalformedProtobufError: The file is not a ``TaskTemplate``; the message names it.
        """
        with self._lock:
            if self._template is None:
                self._template = self._store.read_protobuf(self._path, tasks_pb2.TaskTemplate)
            return self._template

    def path(self) -> DataReference:
        """Where the template lives, uploading it first if it is only in memory.

        Raises:
            StorageError: The upload failed; nothing is cached, so a later call retries.
        """
        with self._lock:
            if not self._uploaded:
                assert self._template is not None  # only in-memory templates start unuploaded
                self._store.write_protobuf(self._path, self._template)
                self._uploaded = True
            return self._path
