"""The execution page's timeline, task template view and log links, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flyteidl.core import execution_pb2, interface_pb2, tasks_pb2, types_pb2

from plugins.core import Phase, PhaseInfo, TaskInfo
from plugins.core.taskinfo import ExternalResource
from scheduler._model import Event, ExecutionRecord
from scheduler.console.template_view import log_links, template_view, type_text
from scheduler.console.timeline import timeline

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(finished_at: float | None) -> ExecutionRecord:
    return ExecutionRecord(
        "p/d/n", "p", "d", "n", "echo", "memory://t", "memory://i", "memory://o",
        T0, at(finished_at or 0), finished=finished_at is not None,
    )  # fmt: skip


def test_a_timeline_has_a_lane_per_attempt_and_a_segment_per_phase() -> None:
    events = [
        Event(0, Phase.QUEUED, 0, "submitted", at(0)),
        Event(0, Phase.QUEUED, 2, "launched", at(0.5)),  # a new version: the same segment
        Event(0, Phase.RUNNING, 1, "", at(1)),
        Event(0, Phase.RETRYABLE_FAILURE, 0, "boom", at(5)),
        Event(1, Phase.QUEUED, 0, "", at(6)),
        Event(1, Phase.RUNNING, 0, "", at(7)),
        Event(1, Phase.SUCCESS, 0, "", at(10)),
    ]
    shown = timeline(list(reversed(events)), record(finished_at=10), now=at(99))
    assert shown.span == timedelta(seconds=10)  # to the end, not to now
    assert [lane.attempt for lane in shown.lanes] == [0, 1]
    first, second = shown.lanes
    assert [(s.phase, s.lasted.total_seconds()) for s in first.segments] == [
        ("QUEUED", 1.0), ("RUNNING", 4.0), ("RETRYABLE_FAILURE", 1.0),
    ]  # fmt: skip
    assert [(s.left, s.width) for s in first.segments] == [(0, 10), (10, 40), (50, 10)]
    assert [s.phase for s in second.segments] == ["QUEUED", "RUNNING", "SUCCESS"]
    assert second.segments[-1].lasted == timedelta(0)
    assert second.segments[-1].width == 0.4  # an instant stays visible


def test_a_running_execution_s_timeline_ends_now() -> None:
    events = [Event(0, Phase.QUEUED, 0, "", at(0)), Event(0, Phase.RUNNING, 0, "", at(2))]
    shown = timeline(events, record(finished_at=None), now=at(8))
    assert shown.span == timedelta(seconds=8)
    (lane,) = shown.lanes
    assert [(s.phase, s.lasted.total_seconds()) for s in lane.segments] == [
        ("QUEUED", 2.0), ("RUNNING", 6.0),
    ]  # fmt: skip
    assert timeline([], record(finished_at=None), now=at(1)).lanes == []


def literal_type(**kw: object) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(**kw)  # type: ignore[arg-type]


def test_types_read_as_short_names() -> None:
    integer = literal_type(simple=types_pb2.INTEGER)
    assert type_text(integer) == "integer"
    assert type_text(literal_type(collection_type=integer)) == "list[integer]"
    assert type_text(literal_type(map_value_type=literal_type(simple=types_pb2.FLOAT))) == (
        "dict[str, float]"
    )
    multipart = types_pb2.BlobType(dimensionality=types_pb2.BlobType.MULTIPART)
    assert type_text(literal_type(blob=multipart)) == "directory"
    assert type_text(literal_type(blob=types_pb2.BlobType(format="csv"))) == "file (csv)"
    union = types_pb2.UnionType(variants=[integer, literal_type(simple=types_pb2.NONE)])
    assert type_text(literal_type(union_type=union)) == "integer | none"
    assert type_text(literal_type(enum_type=types_pb2.EnumType(values=["a", "b"]))) == "enum(a, b)"
    dataset = types_pb2.StructuredDatasetType(format="parquet")
    assert type_text(literal_type(structured_dataset_type=dataset)) == (
        "structured dataset (parquet)"
    )
    assert type_text(types_pb2.LiteralType()) == "not declared"


def test_a_template_reads_as_facts_an_interface_and_its_custom() -> None:
    template = tasks_pb2.TaskTemplate(type="spark", task_type_version=2)
    template.id.project, template.id.name, template.id.version = "shop", "jobs.daily", "v3"
    template.metadata.retries.retries = 2
    template.metadata.timeout.FromTimedelta(timedelta(minutes=15))
    template.metadata.discoverable, template.metadata.discovery_version = True, "1"
    template.container.image = "ghcr.io/shop/jobs:3"
    template.container.args.extend(["run", "daily"])
    template.interface.inputs.variables["day"].CopyFrom(
        interface_pb2.Variable(type=literal_type(simple=types_pb2.DATETIME))
    )
    template.interface.outputs.variables["rows"].CopyFrom(
        interface_pb2.Variable(type=literal_type(simple=types_pb2.INTEGER))
    )
    template.custom.update({"driver": {"memory": "2g"}})
    view = template_view(template)
    assert dict(view.facts) == {
        "type": "spark (version 2)",
        "task id": "shop/jobs.daily@v3",
        "retries": "2",
        "timeout": "900s",
        "cache": "on, version 1",
        "image": "ghcr.io/shop/jobs:3",
        "command": "run daily",
    }
    assert (view.inputs, view.outputs) == ([("day", "datetime")], [("rows", "integer")])
    assert '"memory": "2g"' in view.custom
    bare = template_view(tasks_pb2.TaskTemplate(type="echo"))
    assert (bare.facts, bare.inputs, bare.custom) == ([("type", "echo"), ("retries", "0")], [], "")


def test_log_links_are_links_only_for_web_addresses() -> None:
    web = execution_pb2.TaskLog(name="run page", uri="https://dbc.example/run/1")
    script = execution_pb2.TaskLog(name="trap", uri="javascript:alert(1)")
    nested = execution_pb2.TaskLog(uri="s3://bucket/logs/1.txt")
    info = PhaseInfo.running(
        1, TaskInfo(logs=[web, script], external_resources=[ExternalResource("e", logs=[nested])])
    )
    assert [(link.name, link.linkable) for link in log_links(info)] == [
        ("run page", True), ("trap", False), ("s3://bucket/logs/1.txt", False),
    ]  # fmt: skip
    assert log_links(None) == []
    assert log_links(PhaseInfo.running(1)) == []
