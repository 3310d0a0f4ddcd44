"""What the integration and fault tests submit: templates, inputs, and a corrupted execution."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from flyteidl.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from scheduler import Client, Execution
from scheduler._model import ExecutionRecord, execution_id
from scheduler._runtime import execution_prefix

__all__ = ["seconds", "submit_with_raw_inputs", "template", "timed_template"]


def template(
    task_type: str,
    *,
    retries: int = 0,
    timeout: float | None = None,
    custom: dict[str, float] | None = None,
) -> tasks_pb2.TaskTemplate:
    t = tasks_pb2.TaskTemplate(type=task_type)
    t.id.name = f"it.{task_type}"
    t.metadata.retries.retries = retries
    if timeout is not None:
        t.metadata.timeout.FromTimedelta(timedelta(seconds=timeout))
    if custom:
        t.custom.CopyFrom(
            struct_pb2.Struct(
                fields={k: struct_pb2.Value(number_value=v) for k, v in custom.items()}
            )
        )
    var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.FLOAT))
    t.interface.inputs.variables["seconds"].CopyFrom(var)
    t.interface.outputs.variables["seconds"].CopyFrom(var)
    return t


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
    t = tasks_pb2.TaskTemplate(type=task_type)
    t.id.name = f"metrics.{task_type}"
    var = interface_pb2.Variable(type=types_pb2.LiteralType(simple=types_pb2.FLOAT))
    t.interface.inputs.variables["seconds"].CopyFrom(var)
    t.interface.outputs.variables["seconds"].CopyFrom(var)
    if cached:
        t.metadata.discoverable = True
        t.metadata.discovery_version = "1"
    return t
