"""What the HTTP API takes and gives, as pydantic models: the one source of its JSON.

Every body is checked against these (an unknown field is a 400), every answer is one of
them, and the OpenAPI document's schemas are their JSON schemas.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plugins.core import ExecutionError
from scheduler._model import Event, ExecutionRecord

__all__ = [
    "AbortBody",
    "BatchBody",
    "CountView",
    "CountsView",
    "ErrorView",
    "EventView",
    "EventsView",
    "ExecutionView",
    "ExecutionsView",
    "FailureView",
    "FileBytes",
    "FilesView",
    "LiteralsView",
    "SubmitBody",
    "SubmitItem",
    "TemplateView",
    "UploadView",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FailureView(_Strict):
    """An execution's last error."""

    code: str
    message: str
    kind: str
    recoverable: bool

    @classmethod
    def of(cls, error: ExecutionError) -> FailureView:
        """The view of ``error``."""
        return cls(
            code=error.code,
            message=error.message,
            kind=error.kind.name,
            recoverable=error.is_recoverable,
        )


class ExecutionView(_Strict):
    """One execution, as the API shows it."""

    id: str = Field(description="project/domain/name")
    project: str
    domain: str
    name: str
    task_type: str
    task_name: str
    submitted_by: str = Field(description="who submitted it: a token's name, a console user")
    phase: str
    attempt: int
    reason: str
    finished: bool
    created_at: datetime
    updated_at: datetime
    cache_status: str | None
    error: FailureView | None
    record: dict[str, Any] | None = Field(
        default=None,
        description="with ?view=record: the whole stored record, as the Python client reads it",
    )

    @classmethod
    def of(cls, record: ExecutionRecord, *, whole: bool = False) -> ExecutionView:
        """The view of ``record`` (``whole``: with the stored record itself)."""
        return cls(
            id=record.id,
            project=record.project,
            domain=record.domain,
            name=record.name,
            task_type=record.task_type,
            task_name=record.task_name,
            submitted_by=record.submitted_by,
            phase=record.phase.name,
            attempt=record.attempt,
            reason=record.reason,
            finished=record.finished,
            created_at=record.created_at,
            updated_at=record.updated_at,
            cache_status=None if record.cache_status is None else record.cache_status.name,
            error=None if record.last_error is None else FailureView.of(record.last_error),
            record=record.to_dict() if whole else None,
        )


class ExecutionsView(_Strict):
    """A page of executions, newest first, and the cursor of the next page."""

    executions: list[ExecutionView]
    next: str | None = Field(description="pass as ?after= for the next page; null: no more")


class EventView(_Strict):
    """One event of an execution's log."""

    attempt: int
    phase: str
    version: int
    reason: str
    occurred_at: datetime
    cache_status: str | None
    job: str | None
    actor: str | None = Field(description="who asked for it (submitted, aborted, signalled)")

    @classmethod
    def of(cls, event: Event) -> EventView:
        """The view of ``event``."""
        cache = None if event.cache_status is None else event.cache_status.name
        return cls(
            attempt=event.attempt,
            phase=event.phase.name,
            version=event.version,
            reason=event.reason,
            occurred_at=event.occurred_at,
            cache_status=cache,
            job=event.job,
            actor=event.actor,
        )


class EventsView(_Strict):
    """An execution's events, oldest first."""

    events: list[EventView]


class LiteralsView(_Strict):
    """Inputs or outputs: a flyteidl ``LiteralMap``, as JSON and as protobuf."""

    literals: dict[str, Any] = Field(description="the LiteralMap's literals, flyteidl's JSON form")
    pb: str = Field(description="the LiteralMap, serialized, base64")


class TemplateView(_Strict):
    """The task template an execution runs, as JSON and as protobuf."""

    template: dict[str, Any] = Field(description="a flyteidl core.TaskTemplate, JSON form")
    pb: str = Field(description="the TaskTemplate, serialized, base64")


class UploadView(_Strict):
    """A file stored for the caller's project, to pass as an input."""

    uri: str = Field(description="the file's URI: pass it as a File input's value")
    batch: str = Field(description="pass as ?batch= to store more files beside it (a folder)")
    root: str = Field(description="the batch's folder: a Directory input's value")


class FilesView(_Strict):
    """The files under a folder, as URIs."""

    files: list[str]


class FileBytes(_Strict):
    """A file's bytes (``application/octet-stream``), for the OpenAPI document."""


class CountView(_Strict):
    """How many executions of a task type are in a phase."""

    task_type: str
    phase: str
    count: int


class CountsView(_Strict):
    """Executions by task type and phase, as far as the caller may see."""

    counts: list[CountView]
    exact: bool = Field(
        description="false: counted from the caller's newest executions only (see the README)"
    )


class SubmitItem(_Strict):
    """One execution to start: its task and inputs, each as JSON or as protobuf."""

    template: dict[str, Any] | None = Field(
        default=None, description="a flyteidl core.TaskTemplate, flyteidl's JSON form"
    )
    template_pb: str | None = Field(default=None, description="a TaskTemplate, serialized, base64")
    inputs: dict[str, Any] | None = Field(
        default=None,
        description="input values by name (numbers, strings, lists, objects), converted by "
        "the template's interface",
    )
    inputs_pb: str | None = Field(default=None, description="a LiteralMap, serialized, base64")
    name: str | None = Field(default=None, description="the execution's name (default: made up)")


class SubmitBody(SubmitItem):
    """``POST /api/v1/executions``: one execution in a project and domain."""

    project: str = "default"
    domain: str = "development"
    overwrite_cache: bool = False


class BatchBody(_Strict):
    """``POST /api/v1/executions/batch``: many executions of one project and domain."""

    project: str = "default"
    domain: str = "development"
    overwrite_cache: bool = False
    submissions: list[SubmitItem] = Field(min_length=1)


class AbortBody(_Strict):
    """``POST .../abort``: why (the caller's name is added)."""

    reason: str = "Aborted by user"


class ErrorView(_Strict):
    """Every refusal and failure: the project's error code, and one message."""

    code: str = Field(description="the project's error class, e.g. AccessDenied")
    message: str
