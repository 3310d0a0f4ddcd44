"""Quota types: Go's core/resource_manager.go, with the AllocationStatus collision fixed."""

from __future__ import annotations

import pytest

from plugins.core import (
    AllocationStatus,
    ResourceConstraint,
    ResourceConstraintsSpec,
    ResourceManager,
    ResourceNamespace,
    ResourceRegistrar,
)


def test_sub_namespace_joins_with_a_colon() -> None:
    ns = ResourceNamespace("redisresourcemanager")
    sub = ns.create_sub_namespace("connector").create_sub_namespace("default")
    assert sub == "redisresourcemanager:connector:default"
    assert isinstance(sub, ResourceNamespace)


def test_allocation_statuses_are_distinct() -> None:
    values = [s.value for s in AllocationStatus]
    assert len(set(values)) == len(values) == 4
    assert AllocationStatus.UNDEFINED != AllocationStatus.GRANTED
    assert {s.name for s in AllocationStatus} == {
        "UNDEFINED",
        "GRANTED",
        "EXHAUSTED",
        "NAMESPACE_QUOTA_EXCEEDED",
    }


def test_constraints_none_means_no_cap() -> None:
    spec = ResourceConstraintsSpec()
    assert spec.project_scope is None and spec.namespace_scope is None
    capped = ResourceConstraintsSpec(ResourceConstraint(3), ResourceConstraint(1))
    assert capped.project_scope == ResourceConstraint(3)
    assert capped.namespace_scope is not None and capped.namespace_scope.value == 1


def test_constraints_accept_plain_ints() -> None:
    spec = ResourceConstraintsSpec(project_scope=2)  # type: ignore[arg-type]
    assert spec.project_scope == ResourceConstraint(2)


@pytest.mark.parametrize("bad", ["2", 1.5, True])
def test_constraints_reject_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="project_scope"):
        ResourceConstraintsSpec(project_scope=bad)  # type: ignore[arg-type]


class _Manager:
    """A minimal structural implementation, to check the protocols' shape."""

    def __init__(self) -> None:
        self.quotas: dict[str, int] = {}

    def get_id(self) -> str:
        return "test"

    def register_resource_quota(self, namespace: ResourceNamespace, quota: int) -> None:
        self.quotas[namespace] = quota

    def allocate_resource(
        self,
        namespace: ResourceNamespace,
        token: str,
        constraints: ResourceConstraintsSpec,
        *,
        project: str,
        domain: str,
    ) -> AllocationStatus:
        del token, constraints, project, domain
        return AllocationStatus.GRANTED if namespace in self.quotas else AllocationStatus.UNDEFINED

    def release_resource(self, namespace: ResourceNamespace, token: str) -> None:
        del namespace, token


def test_protocols_are_structural() -> None:
    manager = _Manager()
    assert isinstance(manager, ResourceManager)
    assert isinstance(manager, ResourceRegistrar)
    assert not isinstance(object(), ResourceManager)
