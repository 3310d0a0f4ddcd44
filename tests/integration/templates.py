"""What the integration and fault tests submit: templates, inputs, and a corrupted execution."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flyteidl.core import literals_pb2, tasks_pb2

from scheduler import Client, Execution
from scheduler._model import ExecutionRecord, execution_id
from scheduler._runtime import execution_prefix
from tests.helpers import FLOAT, task_template

__all__ = ["seconds", "submit_with_raw_inputs", "template", "timed_template"]


def template(
    task_type: str,
    *,
    retries: int = 0,
    timeout: float | None = None,
    custom: dict[str, float] | None = None,
    name: str = "",
    cached: bool = False,
) -> tasks_pb2.TaskTemplate:
    """The integration tests' template: a declared ``seconds: float`` input and output."""
    return task_template(
        task_type,
        name=name or f"it.{task_type}",
        inputs={"seconds": FLOAT},
        outputs={"seconds": FLOAT},
        retries=retries,
        timeout=timeout,
        custom=custom,
        cached=cached,
    )


def seconds(value: float) -> dict[str, literals_pb2.Literal]:
    lit = literals_pb2.Literal()
    lit.scalar.primitive.float_value = value
    return {"seconds": lit}


def submit_with_raw_inputs(
    client: Client, task: tasks_pb2.TaskTemplate, raw_inputs: bytes, project: str
) -> Execution:
    """Create an execution whose inputs.pb holds ``raw_inputs``, as a corrupted store would."""
    name = f"raw{uuid.uuid4().hex[:12]}"
    prefix = execution_prefix(client.settings.storage, project, "development", name)
    client.runtime.data_store.write_protobuf(f"{prefix}/task.pb", task)
    client.runtime.data_store.write_raw(f"{prefix}/inputs.pb", raw_inputs)
    now = datetime.now(UTC)
    record = ExecutionRecord(
        id=execution_id(project, "development", name),
        project=project,
        domain="development",
        name=name,
        task_type=task.type,
        template_uri=f"{prefix}/task.pb",
        inputs_uri=prefix,
        output_prefix=f"{prefix}/data",
        created_at=now,
        updated_at=now,
        pending=True,
    )
    client.runtime.store.create(record)
    client.runtime.wake.notify()
    return client.get(record.id)


def timed_template(task_type: str, *, cached: bool = False) -> tasks_pb2.TaskTemplate:
    """A template with a declared ``seconds: float`` input and output (the metrics tests').

    Args:
        task_type: Its task type.
        cached: Whether the result cache applies (``discovery_version`` 1).
    """
    return template(task_type, name=f"metrics.{task_type}", cached=cached)
