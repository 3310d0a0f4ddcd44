"""Plugins the integration tests register in real workers through FLYTE_CELERY_PLUGINS."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from plugins.core import (
    PhaseInfo,
    PluginProperties,
    ResourceConstraint,
    ResourceConstraintsSpec,
    ResourceNamespace,
    Transition,
    do_transition,
)
from plugins.core import PluginEntry as CorePluginEntry
from plugins.core import TaskExecutionContext as CoreContext
from plugins.io import InMemoryOutputReader
from plugins.webapi import (
    AsyncPlugin,
    DeleteContext,
    GetContext,
    PluginConfig,
    PluginEntry,
    StatusContext,
    TaskExecutionContextReader,
)


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    url = os.environ["JOB_SERVICE_URL"] + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode()}") from None


@dataclass(frozen=True)
class JobHandle:
    name: str


class HTTPJobPlugin(AsyncPlugin[JobHandle, str]):
    """Runs jobs on the test's HTTP job service; the generated name is the job's key."""

    def get_config(self) -> PluginConfig:
        return PluginConfig(resource_meta=JobHandle)

    def resource_requirements(
        self, ctx: TaskExecutionContextReader
    ) -> tuple[ResourceNamespace, ResourceConstraintsSpec]:
        # Caps come from the template's custom field, so each test picks its own.
        custom = ctx.task_reader.read().custom
        fields = custom.fields
        project = fields["project_cap"].number_value if "project_cap" in fields else None
        domain = fields["domain_cap"].number_value if "domain_cap" in fields else None
        return ResourceNamespace("default"), ResourceConstraintsSpec(
            None if project is None else ResourceConstraint(int(project)),
            None if domain is None else ResourceConstraint(int(domain)),
        )

    def create(self, ctx: TaskExecutionContextReader) -> tuple[JobHandle, str | None]:
        meta = ctx.task_execution_metadata
        inputs = ctx.input_reader.get()
        seconds = 0.0
        if "seconds" in inputs.literals:
            seconds = inputs.literals["seconds"].scalar.primitive.float_value
        name = meta.task_execution_id.generated_name
        _call(
            "POST",
            "/jobs",
            {"name": name, "project": meta.project, "domain": meta.domain, "seconds": seconds},
        )
        return JobHandle(name), None

    async def get(self, ctx: GetContext[JobHandle]) -> str:
        import asyncio

        response = await asyncio.to_thread(_call, "GET", f"/jobs/{ctx.resource_meta.name}")
        return str(response["state"])

    def delete(self, ctx: DeleteContext[JobHandle]) -> None:
        if ctx.resource_meta is not None:
            _call("DELETE", f"/jobs/{ctx.resource_meta.name}")

    def status(self, ctx: StatusContext[JobHandle, str]) -> PhaseInfo:
        if ctx.resource == "SUCCEEDED":
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return PhaseInfo.success()
        if ctx.resource in ("FAILED", "DELETED"):
            return PhaseInfo.retryable_failure("JobFailed", f"job ended {ctx.resource}")
        return PhaseInfo.running(1)


class FlakyCreatePlugin(HTTPJobPlugin):
    """Fails the Create of attempt 0, then behaves."""

    def create(self, ctx: TaskExecutionContextReader) -> tuple[JobHandle, str | None]:
        if ctx.task_execution_metadata.task_execution_id.retry_attempt == 0:
            raise ConnectionError("job service refused the first attempt")
        return super().create(ctx)


ENTRIES: list[Any] = [
    PluginEntry("http-job", ["http_job"], HTTPJobPlugin),
    PluginEntry("flaky-create", ["flaky_create"], FlakyCreatePlugin),
]
"""Registered in the workers and the scheduler by FLYTE_CELERY_PLUGINS."""

ONLY_IN_CLIENT = PluginEntry("ghost", ["ghost"], HTTPJobPlugin)
"""Known to a client but to no worker: its executions fail in the engine, clearly."""

MORE = [
    PluginEntry("http-job-capped", ["http_job_capped"], HTTPJobPlugin),
    PluginEntry("http-job-limited", ["http_job_limited"], HTTPJobPlugin),
]


class RoundsCorePlugin:
    """A core plugin: three rounds, its count kept in plugin state, then its inputs as outputs."""

    def get_id(self) -> str:
        return "rounds"

    def get_properties(self) -> PluginProperties:
        return PluginProperties()

    def handle(self, ctx: CoreContext) -> Transition:
        _, state = ctx.plugin_state_reader.get()
        n = (state or {}).get("n", 0) + 1
        if n == 3:
            ctx.output_writer.put(InMemoryOutputReader(ctx.input_reader.get()))
            return do_transition(PhaseInfo.success())
        ctx.plugin_state_writer.put(1, {"n": n})
        ctx.task_refresh_indicator()  # the next round at once, not after the resync
        return do_transition(PhaseInfo.running(n))

    def abort(self, ctx: CoreContext) -> None:
        del ctx

    def finalize(self, ctx: CoreContext) -> None:
        del ctx


ENTRIES.append(CorePluginEntry("rounds", ["rounds"], RoundsCorePlugin))
