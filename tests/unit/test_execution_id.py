"""TaskExecutionID and generated names."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.core import GENERATED_NAME_MAX_LENGTH, TaskExecutionID, TaskExecutionMetadata
from plugins.core.execution_id import fixed_length_unique_id

DNS_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


def make(**kw: object) -> TaskExecutionID:
    args: dict[str, object] = {"project": "flytesnacks", "domain": "development", "name": "abc"}
    args.update(kw)
    return TaskExecutionID.create(**args)  # type: ignore[arg-type]


def test_short_safe_names_are_readable() -> None:
    tid = make(attempt=2)
    assert tid.generated_name == "flytesnacks-development-abc-n0-2"
    assert tid.retry_attempt == 2
    assert (tid.project, tid.domain, tid.execution_name) == ("flytesnacks", "development", "abc")
    assert tid.unique_node_id == "n0"


def test_identifier_is_flyteidl() -> None:
    tid = make(task_name="my.task", task_version="v1", attempt=1)
    pb = tid.id
    assert pb.retry_attempt == 1
    assert pb.task_id.name == "my.task"
    assert pb.node_execution_id.execution_id.name == "abc"
    assert pb.node_execution_id.execution_id.project == "flytesnacks"


def test_every_attempt_gets_a_new_name() -> None:
    names = {make(attempt=a).generated_name for a in range(20)}
    assert len(names) == 20


def test_long_or_unsafe_names_are_hashed_within_bounds() -> None:
    long_id = make(name="x" * 200)
    assert len(long_id.generated_name) <= GENERATED_NAME_MAX_LENGTH
    assert DNS_LABEL.fullmatch(long_id.generated_name)
    unsafe = make(name="My_Exec.Name")
    assert DNS_LABEL.fullmatch(unsafe.generated_name)
    assert unsafe.generated_name != make(name="my-exec-name").generated_name


def test_generated_name_is_deterministic() -> None:
    assert (
        make(name="q" * 90, attempt=1).generated_name
        == make(name="q" * 90, attempt=1).generated_name
    )
    assert make() == make()
    assert hash(make()) == hash(make())
    assert make() != make(attempt=1)


def test_generated_name_with_pads_and_shortens() -> None:
    tid = make(project="p", domain="d", name="e")
    assert tid.generated_name == "p-d-e-n0-0"
    assert tid.generated_name_with(15, 50) == "p-d-e-n0-000000"
    short = make().generated_name_with(8, 10)
    assert len(short) <= 10 and DNS_LABEL.fullmatch(short)
    assert make().generated_name_with(1, 63) == make().generated_name
    with pytest.raises(ValueError, match="exceeds"):
        tid.generated_name_with(10, 9)


def test_max_length_must_be_at_least_eight() -> None:
    with pytest.raises(ValueError, match="at least 8"):
        fixed_length_unique_id("abc", 5)
    assert fixed_length_unique_id("abcdefghijklmnop", 8) != fixed_length_unique_id(
        "abcdefghijklmnoq", 8
    )


def test_negative_attempt_is_rejected() -> None:
    with pytest.raises(ValueError, match="attempt"):
        make(attempt=-1)


def test_metadata_exposes_project_and_domain() -> None:
    meta = TaskExecutionMetadata(task_execution_id=make(), max_attempts=3, interruptible=True)
    assert (meta.project, meta.domain) == ("flytesnacks", "development")
    assert meta.is_interruptible()
    assert meta.overrides.container_image == ""


names = st.text(min_size=1, max_size=120)


@given(
    names, names, st.integers(min_value=0, max_value=1000), st.integers(min_value=8, max_value=63)
)
def test_generated_names_are_bounded_and_dns_safe(
    project: str, name: str, attempt: int, max_length: int
) -> None:
    tid = TaskExecutionID.create(
        project=project, domain="d", name=name, attempt=attempt, max_length=max_length
    )
    assert 0 < len(tid.generated_name) <= max_length
    assert DNS_LABEL.fullmatch(tid.generated_name)


@given(names, names)
def test_distinct_executions_get_distinct_names(a: str, b: str) -> None:
    if a == b:
        return
    assert make(name=a).generated_name != make(name=b).generated_name


def test_generated_names_are_injective_across_project_and_domain() -> None:
    # Flyte's plain join gives these one name: one token and one remote job for two executions.
    a = TaskExecutionID.create(project="ml-dev", domain="team", name="x")
    b = TaskExecutionID.create(project="ml", domain="dev-team", name="x")
    c = TaskExecutionID.create(project="ml", domain="dev", name="team-x")
    names = {a.generated_name, b.generated_name, c.generated_name}
    assert len(names) == 3
    for name in names:
        assert DNS_LABEL.fullmatch(name)
        assert len(name) <= GENERATED_NAME_MAX_LENGTH


def test_names_without_dashes_keep_flytes_form() -> None:
    tid = TaskExecutionID.create(project="flytesnacks", domain="development", name="abc")
    assert tid.generated_name == "flytesnacks-development-abc-n0-0"


@given(
    st.lists(
        st.tuples(
            st.text("ab-", min_size=1, max_size=4),
            st.text("ab-", min_size=1, max_size=4),
            st.text("ab-", min_size=1, max_size=4),
            st.integers(0, 3),
        ),
        min_size=2,
        max_size=2,
        unique=True,
    )
)
def test_distinct_attempts_never_share_a_name(ids: list[tuple[str, str, str, int]]) -> None:
    (p1, d1, n1, a1), (p2, d2, n2, a2) = ids
    one = TaskExecutionID.create(project=p1, domain=d1, name=n1, attempt=a1)
    two = TaskExecutionID.create(project=p2, domain=d2, name=n2, attempt=a2)
    assert one.generated_name != two.generated_name
