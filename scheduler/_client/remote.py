"""The API's client: :meth:`Client.connect <scheduler.Client.connect>` gives one.

It has the Redis-backed client's methods, return types and errors, over HTTP with a
token: no Redis or storage credentials. Templates and inputs are converted here, as the
Redis-backed client converts them, and sent as protobuf; the server writes them. Errors
come back as the project's exceptions (an unknown or revoked token is an
``AccessDeniedError``, a server that does not answer a ``BackendUnavailableError``).
``Execution.wait`` polls: there is no Redis to subscribe to.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import functools
import http.client
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from flyteidl.core import literals_pb2, tasks_pb2
from google.protobuf.message import DecodeError

from plugins.core import Phase
from plugins.errors import (
    AccessDeniedError,
    BackendUnavailableError,
    ConfigError,
    FlyteCeleryError,
    InvalidSubmissionError,
)
from plugins.io import DataStore
from plugins.tasks import TransformContext
from scheduler._backend import PhaseCount
from scheduler._client.conversion import literal_inputs, resolved, template_of
from scheduler._client.execution import Execution
from scheduler._client.remote_files import ApiStore, store_staged
from scheduler._client.submission import Submission, SubmittedTask, new_name
from scheduler._model import CacheStatus, Cursor, Event, ExecutionFilter, ExecutionRecord

__all__ = ["SERVER_URL_ENV", "TOKEN_ENV", "RemoteClient"]

P = ParamSpec("P")
R = TypeVar("R")

SERVER_URL_ENV = "FLYTE_CELERY_SERVER_URL"
TOKEN_ENV = "FLYTE_CELERY_TOKEN"

_MAX_BYTES = 10 * 1024 * 1024  # the largest value converted here (the server checks again)
_API_CODES: dict[str, type[FlyteCeleryError]] = {
    "Unauthenticated": AccessDeniedError,
    "TooManyFailedSignIns": AccessDeniedError,
}
"""The API's own codes, as the project's errors (any other 4xx is an InvalidSubmissionError)."""


def _error_classes() -> dict[str, type[FlyteCeleryError]]:
    found: dict[str, type[FlyteCeleryError]] = {}
    pending: list[type[FlyteCeleryError]] = [FlyteCeleryError]
    while pending:
        kind = pending.pop(0)
        found.setdefault(kind.code, kind)
        pending.extend(kind.__subclasses__())
    return found


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: it would send the token to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _parsed(method: Callable[P, R]) -> Callable[P, R]:
    """An answer that is not what this client reads is the server's fault: unavailable."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, DecodeError) as exc:
            if isinstance(exc, FlyteCeleryError):
                raise
            raise BackendUnavailableError(
                f"the server's answer is not what this client reads: {type(exc).__name__}: {exc}"
            ) from None

    return call


class _Polling:
    """Execution.wait's waiter without Redis: sleeps, and the handle re-reads the record."""

    def wait(self, timeout: timedelta) -> bool:
        time.sleep(max(0.0, timeout.total_seconds()))
        return False


class RemoteClient:
    """A client of a deployment's HTTP API.

    Args:
        url: The server (``https://host``, the console's address).
        token: An API token (``flyte-celery token create``).
        timeout: How long one call may take.
    """

    def __init__(self, url: str, token: str, *, timeout: timedelta = timedelta(seconds=60)) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{SERVER_URL_ENV}: expected http(s)://host, got {url!r}")
        if not token:
            raise ConfigError(f"{TOKEN_ENV}: a token is needed (flyte-celery token create)")
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout.total_seconds()
        self._errors = {**_error_classes(), **_API_CODES}

    @classmethod
    def from_env(cls, url: str | None = None, token: str | None = None) -> RemoteClient:
        """A client of ``url`` with ``token``, each defaulting to its environment variable."""
        return cls(
            url or os.environ.get(SERVER_URL_ENV, ""), token or os.environ.get(TOKEN_ENV, "")
        )

    def close(self) -> None:
        """Nothing to close: each call is its own request."""

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ----------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        route: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        raw_answer: bool = False,
        **query: Any,
    ) -> Any:
        kept = {k: str(v) for k, v in query.items() if v is not None}
        url = self.url + route + ("?" + urllib.parse.urlencode(kept) if kept else "")
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        kind = "application/octet-stream" if raw is not None else "application/json"
        request.add_header("Content-Type", kind)
        try:
            with _OPENER.open(request, timeout=self._timeout) as answer:
                content = answer.read()
                return content if raw_answer else json.loads(content)
        except urllib.error.HTTPError as refused:
            with refused:  # its connection closes with it
                raise self._error(refused) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise BackendUnavailableError(f"the server {self.url} does not answer: {exc}") from None

    def _error(self, refused: urllib.error.HTTPError) -> FlyteCeleryError:
        try:
            answer = json.loads(refused.read())
            code, message = str(answer["code"]), str(answer["message"])
        except (ValueError, KeyError, TypeError):
            return BackendUnavailableError(f"the server {self.url} answered {refused.code}")
        kind = self._errors.get(code)
        if kind is None or kind.__init__ is not FlyteCeleryError.__init__:
            kind = BackendUnavailableError if refused.code >= 500 else InvalidSubmissionError
            return kind(message, code=code)
        return kind(message)

    @staticmethod
    def _path(exec_id: str, suffix: str = "") -> str:
        parts = [urllib.parse.quote(p, safe="") for p in exec_id.split("/", 2)]
        if len(parts) != 3:
            raise InvalidSubmissionError(f"execution id {exec_id!r} is not project/domain/name")
        return f"/api/v1/executions/{'/'.join(parts)}{suffix}"

    # -- submit --------------------------------------------------------------------------------

    def _item(
        self, task: SubmittedTask, inputs: Any, project: str, domain: str, name: str | None
    ) -> tuple[dict[str, Any], Any]:
        task = resolved(task)
        template = template_of(task, project, domain, _MAX_BYTES)
        name = name or new_name()
        # Files are staged in this process's memory, then stored through the API.
        staging = f"memory://flyte-celery-api/{uuid.uuid4().hex}"
        values = literal_inputs(
            task, template, inputs, exec_id=f"{project}/{domain}/{name}",
            uploads=TransformContext(DataStore(), staging), max_bytes=_MAX_BYTES,
        )  # fmt: skip
        store_staged(self._call, values, staging, project, domain)
        item = {
            "template_pb": base64.b64encode(template.SerializeToString()).decode(),
            "inputs_pb": base64.b64encode(values.SerializeToString()).decode(),
            "name": name,
        }
        native = task if hasattr(task, "outputs_from_literal_map") else None
        return item, native

    def submit(
        self,
        task: SubmittedTask,
        inputs: Mapping[str, Any] | literals_pb2.LiteralMap | None = None,
        *,
        project: str = "default",
        domain: str = "development",
        name: str | None = None,
        overwrite_cache: bool = False,
    ) -> Execution:
        """Start an execution: see :meth:`scheduler.Client.submit`."""
        item, native = self._item(task, inputs, project, domain, name)
        body = {**item, "project": project, "domain": domain, "overwrite_cache": overwrite_cache}
        answer = self._call("POST", "/api/v1/executions", body, view="record")
        return self._executions(answer, [native], many=False)[0]

    def submit_many(
        self,
        submissions: Iterable[Submission],
        *,
        project: str = "default",
        domain: str = "development",
        overwrite_cache: bool = False,
    ) -> builtins.list[Execution]:
        """Start many executions, all or none: see :meth:`scheduler.Client.submit_many`."""
        items, natives = [], []
        for submission in submissions:
            item, native = self._item(submission.task, submission.inputs, project, domain,
                                      submission.name)  # fmt: skip
            items.append(item)
            natives.append(native)
        body = {"project": project, "domain": domain, "overwrite_cache": overwrite_cache,
                "submissions": items}  # fmt: skip
        answer = self._call("POST", "/api/v1/executions/batch", body, view="record")
        return self._executions(answer, natives, many=True)

    @_parsed
    def _executions(
        self, answer: Any, natives: builtins.list[Any], *, many: bool
    ) -> builtins.list[Execution]:
        views = answer["executions"] if many else [answer]
        return [
            Execution(self, ExecutionRecord.from_dict(view["record"]), native)
            for view, native in zip(views, natives, strict=True)
        ]

    # -- read ----------------------------------------------------------------------------------

    @_parsed
    def record(self, exec_id: str) -> ExecutionRecord:
        """The stored record (raises ExecutionNotFoundError)."""
        return ExecutionRecord.from_dict(
            self._call("GET", self._path(exec_id), view="record")["record"]
        )

    def get(self, exec_id: str) -> Execution:
        """A handle on an execution."""
        return Execution(self, self.record(exec_id))

    @_parsed
    def page(
        self,
        where: ExecutionFilter | None = None,
        after: Cursor | None = None,
        limit: int = 50,
        *,
        scan: int | None = None,
    ) -> tuple[builtins.list[Execution], Cursor | None]:
        """One page of the newest-first listing (see :meth:`scheduler.Client.page`)."""
        del scan  # the server bounds what it reads
        where = where or ExecutionFilter()
        answer = self._call(
            "GET", "/api/v1/executions", view="record", limit=limit,
            after=None if after is None else str(after),
            phase=None if where.phase is None else where.phase.name, project=where.project,
            domain=where.domain, task_type=where.task_type, task_name=where.task_name,
        )  # fmt: skip
        found = [
            Execution(self, ExecutionRecord.from_dict(v["record"])) for v in answer["executions"]
        ]
        more = answer["next"]
        return found, None if more is None else Cursor.parse(more)

    def list(
        self,
        phase: Phase | None = None,
        limit: int = 100,
        *,
        task_type: str | None = None,
        project: str | None = None,
        domain: str | None = None,
        task_name: str | None = None,
    ) -> builtins.list[Execution]:
        """The newest executions first (see :meth:`scheduler.Client.list`)."""
        where = ExecutionFilter(phase, task_type, project, domain, task_name)
        found: builtins.list[Execution] = []
        after: Cursor | None = None
        while len(found) < limit:
            page, after = self.page(where, after, min(500, limit - len(found)))
            found += page
            if after is None:
                break
        return found

    @_parsed
    def phase_counts(self) -> builtins.list[PhaseCount]:
        """Executions by task type and phase, as far as the token may see."""
        answer = self._call("GET", "/api/v1/counts")
        return [PhaseCount(c["task_type"], Phase[c["phase"]], c["count"]) for c in answer["counts"]]

    @_parsed
    def events(self, exec_id: str) -> builtins.list[Event]:
        """Every (attempt, phase, version) change of an execution, oldest first."""
        answer = self._call("GET", self._path(exec_id, "/events"))
        return [
            Event(
                e["attempt"],
                Phase[e["phase"]],
                e["version"],
                e["reason"],
                datetime.fromisoformat(e["occurred_at"]),
                None if e["cache_status"] is None else CacheStatus[e["cache_status"]],
                e["job"],
                e.get("actor"),
            )
            for e in answer["events"]
        ]

    @_parsed
    def _literals(self, exec_id: str, which: str) -> literals_pb2.LiteralMap:
        answer = self._call("GET", self._path(exec_id, f"/{which}"))
        return literals_pb2.LiteralMap.FromString(base64.b64decode(answer["pb"]))

    def inputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The inputs the execution was submitted with."""
        return self._literals(record.id, "inputs")

    def outputs(self, record: ExecutionRecord) -> literals_pb2.LiteralMap:
        """The outputs of a successful execution."""
        return self._literals(record.id, "outputs")

    @_parsed
    def template(self, record: ExecutionRecord) -> tasks_pb2.TaskTemplate:
        """The template the execution runs, as it was submitted."""
        answer = self._call("GET", self._path(record.id, "/template"))
        return tasks_pb2.TaskTemplate.FromString(base64.b64decode(answer["pb"]))

    def transform(self) -> TransformContext:
        """Converts outputs to Python values; file outputs are read through the API."""
        return TransformContext(ApiStore(self._call), "")

    @contextlib.contextmanager
    def watch(self, exec_id: str) -> Iterator[_Polling]:
        """Execution.wait's waiter: polling, since there is no Redis to subscribe to."""
        del exec_id
        yield _Polling()

    # -- act -----------------------------------------------------------------------------------

    def signal(self, exec_id: str) -> None:
        """Get the execution's remote status now (see :meth:`scheduler.Client.signal`)."""
        self._call("POST", self._path(exec_id, "/signal"), {})

    def abort(self, exec_id: str, reason: str = "Aborted by user") -> None:
        """Abort the execution; the server adds the token's name to the reason."""
        self._call("POST", self._path(exec_id, "/abort"), {"reason": reason})
