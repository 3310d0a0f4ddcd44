"""Connectors that only the test connector server serves (``pyflyte serve connector --modules``).

- ``countdown`` (async): RUNNING for ``ticks`` Gets, then SUCCEEDED with ``o = x * 2``; or
  FAILED when ``fail`` is set. Every Create and Delete is appended to the file named by
  ``CONNECTOR_JOURNAL``, so a test sees what the connector was asked to do.
- ``slow_create`` (async): its Create sleeps for 30 s (a deadline test).
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

from flyteidl.core.execution_pb2 import TaskExecution
from flytekit.extend.backend.base_connector import (
    AsyncConnectorBase,
    ConnectorRegistry,
    Resource,
    ResourceMeta,
)
from flytekit.models.literals import LiteralMap

_JOBS: dict[str, int] = {}


def _journal(event: str, **fields: Any) -> None:
    path = os.environ.get("CONNECTOR_JOURNAL")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"event": event, **fields}) + "\n")


def _input(inputs: LiteralMap | None, name: str, default: Any) -> Any:
    if inputs is None or name not in inputs.literals:
        return default
    primitive = inputs.literals[name].scalar.primitive
    return primitive.value


@dataclass
class CountdownMeta(ResourceMeta):
    job: str
    x: int
    fail: bool


class CountdownConnector(AsyncConnectorBase):
    name = "Countdown Connector"

    def __init__(self) -> None:
        super().__init__(task_type_name="countdown", metadata_type=CountdownMeta)

    async def create(
        self, task_template: Any, output_prefix: str, inputs: LiteralMap | None = None, **kw: Any
    ) -> CountdownMeta:
        job = uuid.uuid4().hex
        _JOBS[job] = int(_input(inputs, "ticks", 1))
        meta = kw.get("task_execution_metadata")
        name = meta.task_execution_id.node_execution_id.execution_id.name if meta else ""
        _journal("create", job=job, execution=name, output_prefix=output_prefix)
        return CountdownMeta(job, int(_input(inputs, "x", 0)), bool(_input(inputs, "fail", False)))

    async def get(self, resource_meta: CountdownMeta, **kw: Any) -> Resource:
        left = _JOBS.get(resource_meta.job, 0)
        if left > 0:
            _JOBS[resource_meta.job] = left - 1
            return Resource(phase=TaskExecution.RUNNING, message=f"{left} to go")
        if resource_meta.fail:
            return Resource(phase=TaskExecution.FAILED, message="the countdown broke")
        return Resource(phase=TaskExecution.SUCCEEDED, outputs={"o": resource_meta.x * 2})

    async def delete(self, resource_meta: CountdownMeta, **kw: Any) -> None:
        _JOBS.pop(resource_meta.job, None)
        _journal("delete", job=resource_meta.job)


@dataclass
class SlowMeta(ResourceMeta):
    job: str


class SlowCreateConnector(AsyncConnectorBase):
    name = "Slow Connector"

    def __init__(self) -> None:
        super().__init__(task_type_name="slow_create", metadata_type=SlowMeta)

    async def create(self, task_template: Any, output_prefix: str, **kw: Any) -> SlowMeta:
        await asyncio.sleep(30)
        return SlowMeta("late")

    async def get(self, resource_meta: SlowMeta, **kw: Any) -> Resource:
        return Resource(phase=TaskExecution.SUCCEEDED)

    async def delete(self, resource_meta: SlowMeta, **kw: Any) -> None:
        return None


ConnectorRegistry.register(CountdownConnector())
ConnectorRegistry.register(SlowCreateConnector())
