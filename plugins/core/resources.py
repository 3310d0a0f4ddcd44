"""Quota types: the Python twin of Go's ``core/resource_manager.go``.

A web-API plugin names a :class:`ResourceNamespace` and optional caps per project
and per (project, domain); the scheduler then takes a token from the
:class:`ResourceManager` before calling ``create``, and releases it on finalize.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "MAX_RESOURCE_QUOTA",
    "NAMESPACE_SEPARATOR",
    "AllocationStatus",
    "ResourceConstraint",
    "ResourceConstraintsSpec",
    "ResourceManager",
    "ResourceNamespace",
    "ResourceRegistrar",
]

NAMESPACE_SEPARATOR = ":"
MAX_RESOURCE_QUOTA = 1000
"""A quota must be in (0, MAX_RESOURCE_QUOTA], as Flyte's ``resourceMaxQuota``."""


class ResourceNamespace(str):
    """The name of a pool of quota tokens, e.g. ``"default"`` or ``"bigquery:us"``."""

    __slots__ = ()

    def create_sub_namespace(self, namespace: str) -> ResourceNamespace:
        """``parent:child``, as Go's ``CreateSubNamespace``."""
        return ResourceNamespace(f"{self}{NAMESPACE_SEPARATOR}{namespace}")


@dataclass(frozen=True)
class ResourceConstraint:
    """A cap on how many tokens one scope may hold at once."""

    value: int

    def __post_init__(self) -> None:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise TypeError(f"ResourceConstraint.value must be an int, got {self.value!r}")


@dataclass(frozen=True)
class ResourceConstraintsSpec:
    """Caps below a namespace's global quota. ``None`` means no cap at that level.

    Attributes:
        project_scope: At most this many tokens for one project in the namespace.
        namespace_scope: At most this many tokens for one (project, domain) pair.
    """

    project_scope: ResourceConstraint | None = None
    namespace_scope: ResourceConstraint | None = None

    def __post_init__(self) -> None:
        # Accept bare ints as a convenience: ResourceConstraintsSpec(project_scope=2).
        for name in ("project_scope", "namespace_scope"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, name, ResourceConstraint(value))
            elif value is not None and not isinstance(value, ResourceConstraint):
                raise TypeError(
                    f"ResourceConstraintsSpec.{name} must be a ResourceConstraint, an int or "
                    f"None, got {value!r}"
                )


class AllocationStatus(enum.StrEnum):
    """The answer to an allocation request.

    Unlike one version of Flyte, where ``AllocationUndefined`` and
    ``AllocationStatusGranted`` shared a value, every member here is distinct.
    """

    UNDEFINED = "AllocationUndefined"
    GRANTED = "ResourceGranted"
    EXHAUSTED = "ResourceExhausted"
    NAMESPACE_QUOTA_EXCEEDED = "NamespaceQuotaExceeded"

    def __str__(self) -> str:
        return self.value


@runtime_checkable
class ResourceRegistrar(Protocol):
    """Where plugins register their quotas at load time."""

    def register_resource_quota(self, namespace: ResourceNamespace, quota: int) -> None:
        """Declare that ``namespace`` has ``quota`` tokens.

        Raises:
            ConfigError: ``quota`` is not in (0, 1000], or ``namespace`` already has
                another quota.
        """
        ...


@runtime_checkable
class ResourceManager(Protocol):
    """Hands out quota tokens, keyed by a task attempt's generated name."""

    def get_id(self) -> str:
        """A stable id of the implementation, e.g. ``"redisresourcemanager"``."""
        ...

    def allocate_resource(
        self,
        namespace: ResourceNamespace,
        token: str,
        constraints: ResourceConstraintsSpec,
        *,
        project: str,
        domain: str,
    ) -> AllocationStatus:
        """Try to take ``token`` from ``namespace``. Holding it already counts as granted."""
        ...

    def release_resource(self, namespace: ResourceNamespace, token: str) -> bool | None:
        """Give ``token`` back. Releasing a token that is not held succeeds.

        Implementations may return whether the token was held.
        """
        ...
