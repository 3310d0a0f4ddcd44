"""flyteidl2 and flyteidl 1 messages convert both ways without loss (property tests)."""

from __future__ import annotations

import pytest
from flyteidl.core import execution_pb2, literals_pb2
from flyteidl2.connector import connector_pb2
from flyteidl2.core import execution_pb2 as execution2_pb2
from flyteidl2.core import literals_pb2 as literals2_pb2
from flyteidl2.core import tasks_pb2 as tasks2_pb2
from flyteidl2.task import common_pb2
from hypothesis import given

from plugins.flyte2 import as_flyteidl1, is_flyteidl2
from plugins.flyte2.idl import (
    as_v1,
    as_v2,
    inputs_v1,
    inputs_v2,
    outputs_v1,
    outputs_v2,
    resource_v1,
    template_v1,
    template_v2,
)
from plugins.flytekit.status import resource_phase_info
from scheduler.cli.inputs import read_template
from tests.strategies import execution_errors, literal_maps, literals
from tests.tasks import sample


@given(literal_maps)
def test_literal_maps_cross_as_inputs_and_outputs(values: literals_pb2.LiteralMap) -> None:
    assert inputs_v1(inputs_v2(values)) == values
    assert outputs_v1(outputs_v2(values)) == values
    assert [n.name for n in inputs_v2(values).literals] == sorted(values.literals)


@given(literals)
def test_literals_cross_and_keep_their_values(value: literals_pb2.Literal) -> None:
    twin = as_v2(value, literals2_pb2.Literal)
    assert as_v1(twin, literals_pb2.Literal) == value
    assert twin.WhichOneof("value") == value.WhichOneof("value")
    assert as_flyteidl1(twin) == value


@given(execution_errors)
def test_errors_cross(error) -> None:
    proto = error.to_flyte_idl()
    assert as_v1(as_v2(proto, execution2_pb2.ExecutionError), execution_pb2.ExecutionError) == proto


def test_fields_only_flyteidl2_has_ride_through_flyteidl_1() -> None:
    literal = literals2_pb2.Literal()
    literal.scalar.primitive.integer = 3
    literal.artifact_id.key.name = "model"  # flyteidl 1's Literal has no artifact_id
    assert as_v2(as_v1(literal, literals_pb2.Literal), literals2_pb2.Literal) == literal
    template = tasks2_pb2.TaskTemplate(type="t")
    template.metadata.is_entrypoint = True  # neither has flyteidl 1
    template.metadata.debuggable = True
    assert template_v2(template_v1(template)) == template


@pytest.mark.parametrize(
    "setting",
    [
        "timeouts.queued_timeout",
        "timeouts.deadline",
        "cache_max_age",
        "retries.backoff",
    ],
)
def test_settings_that_would_not_be_enforced_are_refused_by_name(setting: str) -> None:
    template = tasks2_pb2.TaskTemplate(type="t")
    target = template.metadata
    for part in setting.split("."):
        target = getattr(target, part)
    target.SetInParent()
    with pytest.raises(ValueError, match=f"sets metadata.{setting}, which flyte-celery does not"):
        template_v1(template)


def test_a_template_crosses_with_its_interface_and_custom() -> None:
    ours = sample.add.to_task_template()
    twin = template_v2(ours)
    assert {e.key for e in twin.interface.inputs.variables} == set(ours.interface.inputs.variables)
    assert template_v1(twin) == ours
    assert is_flyteidl2(twin) and not is_flyteidl2(ours) and as_flyteidl1(ours) is ours


def test_inputs_that_name_a_literal_twice_are_refused() -> None:
    twice = common_pb2.Inputs(
        literals=[common_pb2.NamedLiteral(name="x"), common_pb2.NamedLiteral(name="x")]
    )
    with pytest.raises(ValueError, match="'x' is given twice"):
        inputs_v1(twice)
    with pytest.raises(TypeError, match=r"flyteidl2\.core\.TaskLog has no flyteidl 1 form"):
        as_flyteidl1(execution2_pb2.TaskLog())


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (execution2_pb2.TaskExecution.QUEUED, "QUEUED"),
        (execution2_pb2.TaskExecution.INITIALIZING, "INITIALIZING"),
        (execution2_pb2.TaskExecution.RUNNING, "RUNNING"),
        (execution2_pb2.TaskExecution.SUCCEEDED, "SUCCESS"),
        (execution2_pb2.TaskExecution.FAILED, "PERMANENT_FAILURE"),
        (execution2_pb2.TaskExecution.RETRYABLE_FAILED, "RETRYABLE_FAILURE"),
    ],
)
def test_a_flyte2_resource_maps_as_propeller_maps_it(phase: int, expected: str) -> None:
    resource = connector_pb2.Resource(phase=phase, message="m")
    resource.log_links.add(name="job", uri="http://x")
    resource.custom_info.update({"k": 1})
    resource.outputs.literals.add(name="o0").value.scalar.primitive.integer = 2
    converted = resource_v1(resource)
    assert converted.outputs.literals["o0"].scalar.primitive.integer == 2
    info = resource_phase_info(converted)
    assert info.phase.name == expected
    assert [log.uri for log in info.info.logs] == ["http://x"]
    assert info.info.custom_info == {"k": 1.0}


def test_the_cli_reads_a_flyteidl2_template_file(tmp_path) -> None:
    twin = template_v2(sample.add.to_task_template())
    twin.metadata.is_entrypoint = True  # a flyteidl2-only field rides along
    path = tmp_path / "task.pb"
    path.write_bytes(twin.SerializeToString())
    read = read_template(path)
    assert read == template_v1(twin) and read.type == twin.type
    assert template_v2(read) == twin
