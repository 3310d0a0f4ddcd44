"""A Flyte 2 connector, written as a Flyte 2 user writes one, and templates of its task type.

``flyte2-double`` doubles its input ``x`` on a pretend remote service whose jobs are JSON
files in the folder the template names (``custom.jobs``), so every process of a deployment
sees them: Create writes one, each Get counts a poll and says SUCCEEDED (with ``o0 = 2x``)
after ``custom.polls`` of them, Delete marks it deleted. It needs the secret ``token``,
which the template maps to an environment variable (``custom.secrets``), and reports a
log link. Each job records the process that created it. Importing this module registers it
in Flyte 2's ``ConnectorRegistry``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flyte.connectors import AsyncConnector, ConnectorRegistry, Resource, ResourceMeta
from flyteidl2.core import interface_pb2, literals_pb2, tasks_pb2, types_pb2
from flyteidl2.core.execution_pb2 import TaskExecution, TaskLog
from google.protobuf import json_format, struct_pb2

TASK_TYPE = "flyte2-double"
TOKEN_VARIABLE = "FLYTE2_TEST_TOKEN"
"""The secret's name in the template; a worker holds it as ``_FSEC_FLYTE2_TEST_TOKEN``."""
SECRET_ENV = f"_FSEC_{TOKEN_VARIABLE}"


@dataclass
class DoubleJob(ResourceMeta):
    path: str


class DoubleConnector(AsyncConnector[DoubleJob]):
    name = "Double connector"
    task_type_name = TASK_TYPE
    metadata_type = DoubleJob

    async def create(
        self,
        task_template: tasks_pb2.TaskTemplate,
        output_prefix: str,
        inputs: dict[str, Any] | None = None,
        task_execution_metadata: Any = None,
        **kwargs: Any,
    ) -> DoubleJob:
        custom = json_format.MessageToDict(task_template.custom)
        # In process the token comes from the template's secrets; a server has it itself.
        token = kwargs.get("token") or os.environ.get(TOKEN_VARIABLE)
        if token != "sesame":
            raise PermissionError(f"bad token {token!r}")
        name = task_execution_metadata.task_execution_id.node_execution_id.execution_id.name
        path = Path(custom["jobs"]) / f"{name}.json"
        if not path.exists():  # Create is idempotent on the attempt
            state = {"x": (inputs or {})["x"], "polls": 0, "state": "RUNNING", "pid": os.getpid()}
            state["need"] = int(custom.get("polls", 1))
            path.write_text(json.dumps(state))
        return DoubleJob(str(path))

    async def get(self, resource_meta: DoubleJob, **kwargs: Any) -> Resource:
        path = Path(resource_meta.path)
        state = json.loads(path.read_text())
        state["polls"] += 1
        if state["state"] == "RUNNING" and state["polls"] >= state["need"]:
            state["state"] = "SUCCEEDED"
        path.write_text(json.dumps(state))
        links = [TaskLog(name="job", uri=f"http://jobs.example/{path.stem}")]
        if state["state"] == "SUCCEEDED":
            return Resource(
                phase=TaskExecution.SUCCEEDED, log_links=links, outputs={"o0": 2 * state["x"]}
            )
        if state["state"] == "DELETED":
            return Resource(phase=TaskExecution.ABORTED, message="deleted")
        return Resource(phase=TaskExecution.RUNNING, message="doubling", log_links=links)

    async def delete(self, resource_meta: DoubleJob, **kwargs: Any) -> None:
        path = Path(resource_meta.path)
        state = json.loads(path.read_text())
        state["state"] = "DELETED"
        path.write_text(json.dumps(state))


ConnectorRegistry.register(DoubleConnector(), override=True)


def template(jobs: Path, polls: int = 1) -> tasks_pb2.TaskTemplate:
    """A flyteidl2 template of the connector's task type: ``x: int -> o0: int``."""
    t = tasks_pb2.TaskTemplate(type=TASK_TYPE)
    t.id.name = "tests.flyte2.jobs.double"
    integer = types_pb2.LiteralType(simple=types_pb2.SimpleType.INTEGER)
    t.interface.CopyFrom(
        interface_pb2.TypedInterface(
            inputs=interface_pb2.VariableMap(
                variables=[
                    interface_pb2.VariableEntry(key="x", value=interface_pb2.Variable(type=integer))
                ]
            ),
            outputs=interface_pb2.VariableMap(
                variables=[
                    interface_pb2.VariableEntry(
                        key="o0", value=interface_pb2.Variable(type=integer)
                    )
                ]
            ),
        )
    )
    custom = struct_pb2.Struct()
    custom.update({"jobs": str(jobs), "polls": polls, "secrets": {"token": TOKEN_VARIABLE}})
    t.custom.CopyFrom(custom)
    return t


def integer(value: int) -> literals_pb2.Literal:
    """A flyteidl2 integer literal."""
    literal = literals_pb2.Literal()
    literal.scalar.primitive.integer = value
    return literal
