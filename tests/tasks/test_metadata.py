"""TaskMetadata: flytekit's validation and the flyteidl model it produces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flyteidl.core import literals_pb2, tasks_pb2

from plugins.tasks import TaskMetadata
from plugins.tasks.metadata import runtime_version


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cache": True}, "``cache_version`` is not set"),
        ({"cache_serialize": True}, "Cache serialize is enabled"),
        ({"cache_ignore_input_vars": ("a",)}, "Cache ignore input vars are specified"),
        ({"retries": -1}, "retries must be >= 0, got -1"),
        ({"retries": True}, "retries must be an int"),
        ({"timeout": "5"}, "timeout must be a datetime.timedelta or an int of seconds"),
        ({"timeout": -3}, "timeout must not be negative"),
    ],
)
def test_invalid_metadata_is_rejected_with_a_clear_message(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("*", r"\*")):
        TaskMetadata(**kwargs)


def test_an_int_timeout_is_seconds() -> None:
    assert TaskMetadata(timeout=90).timeout == timedelta(seconds=90)


def test_the_flyteidl_model_carries_every_field() -> None:
    meta = TaskMetadata(
        cache=True,
        cache_serialize=True,
        cache_version="v7",
        cache_ignore_input_vars=("seed",),
        interruptible=True,
        deprecated="old",
        retries=4,
        timeout=timedelta(minutes=2),
        pod_template_name="gpu",
    )
    expected = tasks_pb2.TaskMetadata(
        discoverable=True,
        runtime=tasks_pb2.RuntimeMetadata(
            type=tasks_pb2.RuntimeMetadata.FLYTE_SDK, version=runtime_version(), flavor="python"
        ),
        retries=literals_pb2.RetryStrategy(retries=4),
        discovery_version="v7",
        deprecated_error_message="old",
        interruptible=True,
        cache_serializable=True,
        pod_template_name="gpu",
        cache_ignore_input_vars=["seed"],
    )
    expected.timeout.FromTimedelta(timedelta(minutes=2))
    assert meta.to_taskmetadata_model() == expected


def test_defaults_give_a_plain_model() -> None:
    model = TaskMetadata().to_taskmetadata_model()
    assert not model.discoverable
    assert not model.HasField("timeout")
    assert model.retries.retries == 0
    assert not model.HasField("interruptible")
    assert model.runtime.flavor == "python"
