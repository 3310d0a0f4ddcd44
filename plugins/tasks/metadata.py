"""Task metadata (flytekit's ``TaskMetadata``): retries, timeout, caching and the rest.

The fields and their validation follow flytekit, so a flytekit user's arguments
mean the same thing here. :meth:`TaskMetadata.to_taskmetadata_model` gives the
flyteidl ``TaskMetadata`` that travels in the task template; the scheduler reads
the cache settings, retries and timeout from there, for every task type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf import duration_pb2

import plugins

__all__ = ["RUNTIME_FLAVOR", "TaskMetadata", "runtime_version"]

RUNTIME_FLAVOR = "python"
"""The runtime flavor written into every template this package produces."""


def runtime_version() -> str:
    """The installed flyte-celery version (``0.0.0`` in a source tree never installed)."""
    return str(getattr(plugins, "__version__", "0.0.0"))


@dataclass
class TaskMetadata:
    """Metadata of a task; it applies to every execution of it.

    Attributes:
        cache: Reuse the outputs of an earlier execution with the same inputs.
        cache_serialize: Run identical executions one at a time: the first runs,
            the others wait for its result (needs ``cache``).
        cache_version: Part of the cache key; change it to invalidate old results.
        cache_ignore_input_vars: Inputs left out of the cache key (needs ``cache``).
        interruptible: The task tolerates pre-emption (carried for plugins).
        deprecated: A non-empty message marks the task deprecated; using it warns.
        retries: Attempts allowed after a failed one (user errors).
        timeout: The limit on one attempt; ``None`` or zero means none. An int is
            seconds.
        pod_template_name: Carried for plugins that run pods.
    """

    cache: bool = False
    cache_serialize: bool = False
    cache_version: str = ""
    cache_ignore_input_vars: tuple[str, ...] = ()
    interruptible: bool | None = None
    deprecated: str = ""
    retries: int = 0
    timeout: dt.timedelta | int | None = None
    pod_template_name: str | None = None

    def __post_init__(self) -> None:
        # The same checks, in the same order and spirit, as flytekit's __post_init__.
        if self.timeout is not None and not isinstance(self.timeout, dt.timedelta):
            if isinstance(self.timeout, bool) or not isinstance(self.timeout, int):
                raise ValueError(
                    f"timeout must be a datetime.timedelta or an int of seconds, "
                    f"got {type(self.timeout).__name__} {self.timeout!r}"
                )
            self.timeout = dt.timedelta(seconds=self.timeout)
        if self.timeout is not None and self.timeout < dt.timedelta(0):
            raise ValueError(f"timeout must not be negative, got {self.timeout}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int):
            raise ValueError(f"retries must be an int, got {self.retries!r}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        self.cache_ignore_input_vars = tuple(self.cache_ignore_input_vars)
        if self.cache and not self.cache_version:
            raise ValueError("Caching is enabled ``cache=True`` but ``cache_version`` is not set.")
        if self.cache_serialize and not self.cache:
            raise ValueError(
                "Cache serialize is enabled ``cache_serialize=True`` but ``cache`` is not enabled."
            )
        if self.cache_ignore_input_vars and not self.cache:
            raise ValueError(
                f"Cache ignore input vars are specified ``cache_ignore_input_vars="
                f"{self.cache_ignore_input_vars}`` but ``cache`` is not enabled."
            )

    @property
    def retry_strategy(self) -> literals_pb2.RetryStrategy:
        """The flyteidl retry strategy."""
        return literals_pb2.RetryStrategy(retries=self.retries)

    def to_taskmetadata_model(self) -> tasks_pb2.TaskMetadata:
        """The flyteidl ``TaskMetadata``; its runtime is flyte-celery's version, flavor python."""
        model = tasks_pb2.TaskMetadata(
            discoverable=self.cache,
            runtime=tasks_pb2.RuntimeMetadata(
                type=tasks_pb2.RuntimeMetadata.FLYTE_SDK,
                version=runtime_version(),
                flavor=RUNTIME_FLAVOR,
            ),
            retries=self.retry_strategy,
            discovery_version=self.cache_version,
            deprecated_error_message=self.deprecated,
            cache_serializable=self.cache_serialize,
            cache_ignore_input_vars=list(self.cache_ignore_input_vars),
        )
        if isinstance(self.timeout, dt.timedelta) and self.timeout:
            model.timeout.CopyFrom(duration_pb2.Duration())
            model.timeout.FromTimedelta(self.timeout)
        if self.interruptible is not None:
            model.interruptible = self.interruptible
        if self.pod_template_name:
            model.pod_template_name = self.pod_template_name
        return model
