"""What each API endpoint does, checked against the caller's grants: the ``/api/v1`` table.

Every function runs off the event loop (it reads Redis and storage) and returns one of
:mod:`.api_models`; the access check comes first, from the project and domain in the
path or body, so a refusal says nothing of what exists.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from typing import Any

from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from plugins.core import Phase
from scheduler._client import Submission, blob_uris, literal_inputs, no_uploads
from scheduler._model import ANY, Cursor, ExecutionFilter, ExecutionRecord, Role
from scheduler.console.api import ApiError, Call, Endpoint
from scheduler.console.api_files import list_files, owner_of, read_file, upload
from scheduler.console.api_models import (
    AbortBody,
    BatchBody,
    CountsView,
    CountView,
    EventsView,
    EventView,
    ExecutionsView,
    ExecutionView,
    FileBytes,
    FilesView,
    LiteralsView,
    SubmitBody,
    SubmitItem,
    TemplateView,
    UploadView,
)

__all__ = ["ENDPOINTS"]

_MAX_PAGE = 500
_COUNT_SCAN = 10_000  # executions read to count those of a caller who may not see all


def _id(parts: dict[str, str]) -> tuple[str, str, str]:
    return parts["project"], parts["domain"], parts["name"]


def _record(call: Call, parts: dict[str, str], need: Role) -> ExecutionRecord:
    project, domain, name = _id(parts)
    call.require(need, project, domain)
    return call.client.record(f"{project}/{domain}/{name}")


def _view(call: Call, record: ExecutionRecord) -> ExecutionView:
    return ExecutionView.of(record, whole=call.query.get("view") == "record")


def _decoded(text: str, message: Message, what: str) -> Any:
    try:
        message.ParseFromString(base64.b64decode(text, validate=True))
    except (binascii.Error, DecodeError, ValueError) as exc:
        raise ApiError(
            400, "MalformedProtobuf", f"{what} is not a base64 protobuf: {exc}"
        ) from None
    return message


def _task(item: SubmitItem) -> tasks_pb2.TaskTemplate:
    if (item.template is None) == (item.template_pb is None):
        raise ApiError(400, "InvalidSubmission", "give the task as template or as template_pb")
    if item.template_pb is not None:
        return _decoded(item.template_pb, tasks_pb2.TaskTemplate(), "template_pb")  # type: ignore[no-any-return]
    try:
        return json_format.ParseDict(item.template or {}, tasks_pb2.TaskTemplate())
    except (json_format.ParseError, TypeError, ValueError) as exc:
        raise ApiError(400, "MalformedProtobuf", f"template is not a TaskTemplate: {exc}") from None


def _inputs(
    call: Call, item: SubmitItem, template: tasks_pb2.TaskTemplate, project: str, domain: str
) -> literals_pb2.LiteralMap:
    """The inputs as literals, converted here, and refused if they reach past the project.

    Nothing of the server's is uploaded, and files must be the project's own: a worker
    reads them with its credentials.
    """
    if item.inputs is not None and item.inputs_pb is not None:
        raise ApiError(400, "InvalidSubmission", "give the inputs as inputs or as inputs_pb")
    raw: Any = item.inputs
    if item.inputs_pb is not None:
        raw = _decoded(item.inputs_pb, literals_pb2.LiteralMap(), "inputs_pb")
    settings = call.client.settings
    values = literal_inputs(
        template, template, raw, exec_id=f"{project}/{domain}/-", uploads=no_uploads(),
        max_bytes=settings.max_download_bytes,
    )  # fmt: skip
    for uri in blob_uris(values):
        if owner_of(settings.storage, uri) != (project, domain):
            raise ApiError(
                400,
                "InvalidSubmission",
                f"inputs may point only at project {project!r}'s files of domain {domain!r} "
                f"(its executions' and uploads'), not at {uri}",
            )
    return values


def _literals(literal_map: literals_pb2.LiteralMap) -> LiteralsView:
    return LiteralsView(
        literals=json_format.MessageToDict(literal_map).get("literals", {}),
        pb=base64.b64encode(literal_map.SerializeToString()).decode(),
    )


def _filter(call: Call) -> tuple[ExecutionFilter, Cursor | None, int]:
    query = call.query
    phase = query.get("phase", "").strip().upper()
    if phase and phase not in Phase.__members__:
        raise ApiError(400, "InvalidQuery", f"unknown phase {phase!r}")
    try:
        after = Cursor.parse(query["after"]) if query.get("after") else None
        limit = int(query.get("limit", "50"))
    except ValueError as exc:
        raise ApiError(400, "InvalidQuery", str(exc)) from None
    if not 1 <= limit <= _MAX_PAGE:
        raise ApiError(400, "InvalidQuery", f"limit must be from 1 to {_MAX_PAGE}")
    project, domain = call.caller.narrow(query.get("project") or None, query.get("domain") or None)
    where = ExecutionFilter(
        phase=Phase[phase] if phase else None,
        task_type=query.get("task_type") or None,
        project=project,
        domain=domain,
        task_name=query.get("task_name") or None,
    )
    return where, after, limit


def list_executions(call: Call, parts: dict[str, str], body: None) -> ExecutionsView:
    """A page of the executions the caller may see, newest first."""
    where, after, limit = _filter(call)
    found, more = call.client.page(where, after, limit, scan=max(limit * 20, 1000))
    seen = [
        _view(call, ex.record)
        for ex in found
        if call.caller.may(Role.VIEWER, ex.record.project, ex.record.domain)
    ]
    return ExecutionsView(executions=seen, next=None if more is None else str(more))


def get_execution(call: Call, parts: dict[str, str], body: None) -> ExecutionView:
    """One execution."""
    return _view(call, _record(call, parts, Role.VIEWER))


def execution_events(call: Call, parts: dict[str, str], body: None) -> EventsView:
    """An execution's events, oldest first."""
    record = _record(call, parts, Role.VIEWER)
    return EventsView(events=[EventView.of(e) for e in call.client.events(record.id)])


def execution_inputs(call: Call, parts: dict[str, str], body: None) -> LiteralsView:
    """An execution's inputs."""
    return _literals(call.client.inputs(_record(call, parts, Role.VIEWER)))


def execution_outputs(call: Call, parts: dict[str, str], body: None) -> LiteralsView:
    """A successful execution's outputs."""
    return _literals(call.client.outputs(_record(call, parts, Role.VIEWER)))


def execution_template(call: Call, parts: dict[str, str], body: None) -> TemplateView:
    """The task template an execution runs."""
    template = call.client.template(_record(call, parts, Role.VIEWER))
    return TemplateView(
        template=json_format.MessageToDict(template),
        pb=base64.b64encode(template.SerializeToString()).decode(),
    )


def submit(call: Call, parts: dict[str, str], body: SubmitBody) -> ExecutionView:
    """Start one execution."""
    call.require(Role.SUBMITTER, body.project, body.domain)
    template = _task(body)
    values = _inputs(call, body, template, body.project, body.domain)
    ex = call.client.submit(
        template, values, project=body.project, domain=body.domain, name=body.name,
        overwrite_cache=body.overwrite_cache,
    )  # fmt: skip
    return _view(call, ex.record)


def submit_many(call: Call, parts: dict[str, str], body: BatchBody) -> ExecutionsView:
    """Start many executions of one project and domain: all of them, or none."""
    call.require(Role.SUBMITTER, body.project, body.domain)
    wanted = []
    for item in body.submissions:
        template = _task(item)
        values = _inputs(call, item, template, body.project, body.domain)
        wanted.append(Submission(template, values, item.name))
    started = call.client.submit_many(
        wanted, project=body.project, domain=body.domain, overwrite_cache=body.overwrite_cache
    )
    return ExecutionsView(executions=[_view(call, ex.record) for ex in started], next=None)


def abort(call: Call, parts: dict[str, str], body: AbortBody) -> ExecutionView:
    """Abort an execution; the reason names the caller."""
    record = _record(call, parts, Role.SUBMITTER)
    call.client.abort(record.id, f"{body.reason} (by {call.caller.name})")
    return _view(call, call.client.record(record.id))


def signal(call: Call, parts: dict[str, str], body: None) -> ExecutionView:
    """Ask for an execution's remote status now rather than at the next resync."""
    record = _record(call, parts, Role.SUBMITTER)
    call.client.signal(record.id)
    return _view(call, call.client.record(record.id))


def counts(call: Call, parts: dict[str, str], body: None) -> CountsView:
    """Executions by task type and phase: every one for a caller who may see all."""
    caller = call.caller
    if caller.sees_everything():
        found = call.client.phase_counts()
        views = [CountView(task_type=c.task_type, phase=c.phase.name, count=c.count) for c in found]
        return CountsView(counts=views, exact=True)
    tally: Counter[tuple[str, str]] = Counter()
    seen: set[str] = set()
    read, exact = 0, True
    for grant in sorted(caller.grants, key=str):
        if read >= _COUNT_SCAN:
            exact = False
            break
        where = ExecutionFilter(
            project=None if grant.project == ANY else grant.project,
            domain=None if grant.domain == ANY else grant.domain,
        )
        budget = _COUNT_SCAN - read
        page, more = call.client.page(where, None, budget, scan=budget)
        read += len(page)
        exact = exact and more is None
        for ex in page:
            if ex.id not in seen and caller.may(Role.VIEWER, ex.record.project, ex.record.domain):
                seen.add(ex.id)
                tally[ex.record.task_type, ex.record.phase.name] += 1
    views = [CountView(task_type=t, phase=p, count=n) for (t, p), n in sorted(tally.items())]
    return CountsView(counts=views, exact=exact)


_EXECUTION = "/api/v1/executions/{project}/{domain}/{name}"
_VIEW = ("view", "record: each execution with its whole stored record")
_FILTERS = (
    ("phase", "only executions in this phase (SUCCESS, FAILED, RUNNING...)"),
    ("project", "only this project's"),
    ("domain", "only this domain's"),
    ("task_type", "only this task type's"),
    ("task_name", "only this task's (the template's id.name)"),
    ("after", "the cursor a previous page gave as next"),
    ("limit", f"the most executions on the page (1 to {_MAX_PAGE}; 50)"),
    _VIEW,
)

ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/api/v1/executions", "List executions, newest first", Role.VIEWER,
             list_executions, ExecutionsView, query=_FILTERS),
    Endpoint("POST", "/api/v1/executions", "Start an execution", Role.SUBMITTER, submit,
             ExecutionView, SubmitBody, status=201, query=(_VIEW,)),
    Endpoint("POST", "/api/v1/executions/batch", "Start many executions, all or none",
             Role.SUBMITTER, submit_many, ExecutionsView, BatchBody, status=201, query=(_VIEW,)),
    Endpoint("GET", _EXECUTION, "Get an execution", Role.VIEWER, get_execution, ExecutionView,
             query=(_VIEW,)),
    Endpoint("GET", f"{_EXECUTION}/events", "An execution's events", Role.VIEWER,
             execution_events, EventsView),
    Endpoint("GET", f"{_EXECUTION}/inputs", "An execution's inputs", Role.VIEWER,
             execution_inputs, LiteralsView),
    Endpoint("GET", f"{_EXECUTION}/template", "The task template an execution runs",
             Role.VIEWER, execution_template, TemplateView),
    Endpoint("GET", f"{_EXECUTION}/outputs", "A successful execution's outputs", Role.VIEWER,
             execution_outputs, LiteralsView),
    Endpoint("GET", "/api/v1/files", "A file of an execution or an upload", Role.VIEWER,
             read_file, FileBytes, query=(("uri", "the file's URI"),), raw_answer=True),
    Endpoint("GET", "/api/v1/files/list", "The files under a folder of an execution or upload",
             Role.VIEWER, list_files, FilesView, query=(("uri", "the folder's URI"),)),
    Endpoint("POST", "/api/v1/uploads/{project}/{domain}", "Store a file to pass as an input",
             Role.SUBMITTER, upload, UploadView, status=201, raw=True,
             query=(("path", "its name, or names joined by / (a file of a folder)"),
                    ("batch", "an earlier upload's batch: store it beside those"))),
    Endpoint("POST", f"{_EXECUTION}/abort", "Abort an execution", Role.SUBMITTER, abort,
             ExecutionView, AbortBody),
    Endpoint("POST", f"{_EXECUTION}/signal", "Get an execution's status now", Role.SUBMITTER,
             signal, ExecutionView),
    Endpoint("GET", "/api/v1/counts", "Executions by task type and phase", Role.VIEWER, counts,
             CountsView),
]  # fmt: skip
"""Every operation of the API, in the order the OpenAPI document lists them."""
