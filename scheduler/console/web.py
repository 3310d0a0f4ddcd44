"""The console: a web page of executions, served by tornado (Flower's own server).

- ``/``: executions newest first, filtered by phase, task type, project and domain,
  in pages (a cursor, so new arrivals do not shift them), refreshing by itself;
- ``/executions/<project>/<domain>/<name>``: one execution: phase, attempts, timings,
  the event timeline, the error whole, inputs and outputs as values, the quota
  namespace, and links to its jobs in Flower;
- abort, signal and relaunch from that page, for a signed-in user
  (``FLYTE_CELERY_CONSOLE_USERS``);
  read-only for everyone else, and for all when no users are configured;
- ``/healthz``: 200 while Redis answers, for health checks;
- ``/api/v1/...``: the HTTP API for callers with a token (:mod:`.api`), and its OpenAPI
  document at ``/api/v1/openapi.json``.

Redis is read in a thread pool, so one slow read does not stall other pages. Forms
carry tornado's XSRF token; the session is a signed, HTTP-only cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from plugins.core import Phase
from plugins.errors import AccessDeniedError, FlyteCeleryError
from scheduler._backend import PhaseCount
from scheduler._client import Execution
from scheduler._model import Cursor, ExecutionFilter, Role
from scheduler.console.api import ProxyUsers, api_routes
from scheduler.console.api_calls import ENDPOINTS
from scheduler.console.forms import Action, Login, Logout
from scheduler.console.openapi import OPENAPI_PATH, OpenApiHandler
from scheduler.console.pages import (
    error_text,
    events_newest_first,
    phase_totals,
    row,
    timings,
    when,
)
from scheduler.console.site import Console, Page, execution_id_of, status_of
from scheduler.console.template_view import LogLink, TemplateView, log_links, template_view
from scheduler.console.timeline import timeline
from scheduler.console.values import shown

__all__ = ["Console", "console_app", "serve_console"]

T = TypeVar("T")

_COOKIE = "flyte_celery_user"
_MAX_PAGE = 500
_SCAN_PER_ROW = 20
_MIN_SCAN = 1_000
_TEMPLATES = Path(__file__).with_name("templates")


class _ListPage(Page):
    async def get(self) -> None:
        phase_name = self.get_argument("phase", "").strip().upper()
        if phase_name and phase_name not in Phase.__members__:
            raise tornado.web.HTTPError(400, "unknown phase %r", phase_name)
        caller = self.reader()
        project = self.get_argument("project", "").strip() or None
        domain = self.get_argument("domain", "").strip() or None
        if caller is not None:
            try:
                project, domain = caller.narrow(project, domain)
            except FlyteCeleryError as exc:
                raise tornado.web.HTTPError(status_of(exc), "%s", exc) from exc
        where = ExecutionFilter(
            phase=Phase[phase_name] if phase_name else None,
            task_type=self.get_argument("type", "").strip() or None,
            project=project,
            domain=domain,
            task_name=self.get_argument("task", "").strip() or None,
        )
        after_text = self.get_argument("after", "")
        try:
            after = Cursor.parse(after_text) if after_text else None
            limit = int(self.get_argument("limit", str(self.console.page_size)))
        except ValueError as exc:
            raise tornado.web.HTTPError(400, "%s", exc) from exc
        if not 1 <= limit <= _MAX_PAGE:
            raise tornado.web.HTTPError(400, "limit must be from 1 to %d", _MAX_PAGE)
        try:
            # A filter that rarely matches reads a bounded stretch, not the whole index.
            scan = max(limit * _SCAN_PER_ROW, _MIN_SCAN)
            found, more = await self.read(
                lambda: self.console.client.page(where, after, limit, scan=scan)
            )
            # The counts are the whole deployment's: for those who may see all of it.
            counts = await self._counts() if caller is None or caller.sees_everything() else []
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(status_of(exc), "%s", exc) from exc
        if caller is not None:
            found = [
                ex for ex in found if caller.may(Role.VIEWER, ex.record.project, ex.record.domain)
            ]
        now = self.console.now()
        query = {
            "phase": phase_name,
            "type": where.task_type or "",
            "project": where.project or "",
            "domain": where.domain or "",
            "task": where.task_name or "",
        }
        kept = {k: v for k, v in query.items() if v}
        if limit != self.console.page_size:
            kept["limit"] = str(limit)
        older = None if more is None else "/?" + urlencode({**kept, "after": str(more)})
        self.render(
            "list.html",
            rows=[row(ex.record, now) for ex in found],
            query=query,
            phases=[p.name for p in Phase],
            newest="/?" + urlencode(kept) if after is not None else None,
            older=older,
            refreshed=when(now),
            totals=phase_totals(counts, where.task_type),
            # The counts are by task type: a phase's link keeps that filter alone.
            phase_link=lambda name: (
                "/?"
                + urlencode(
                    {"phase": name, "type": query["type"]} if query["type"] else {"phase": name}
                )
            ),
        )

    async def _counts(self) -> list[PhaseCount]:
        try:
            return await self.read(self.console.client.phase_counts)
        except AccessDeniedError:
            return []  # a Redis user that may not read them: the list, without the summary


class _ExecutionPage(Page):
    async def get(self, project: str, domain: str, name: str) -> None:
        exec_id = execution_id_of(project, domain, name)
        client = self.console.client
        caller = self.reader()
        try:
            if caller is not None:
                caller.require(Role.VIEWER, project, domain)
            ex = await self.read(client.get, exec_id)
            events = await self.read(ex.events)
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(status_of(exc), "%s", exc) from exc
        record = ex.record
        inputs: list[tuple[str, str]] = []
        inputs_problem = ""
        template: TemplateView | None = None
        template_problem = ""
        if not self.get_argument("live", ""):  # the page's own refresh: these do not change
            inputs, inputs_problem = await self._values(lambda: client.inputs(record))
            try:
                template = await self.read(lambda: template_view(ex.template()))
            except Exception as exc:  # shown as such; the rest of the page still is
                template_problem = f"cannot show it: {exc}"
        outputs: list[tuple[str, str]] = []
        outputs_problem = ""
        if record.phase is Phase.SUCCESS:
            outputs, outputs_problem = await self._values(lambda: client.outputs(record))
        self.render(
            "execution.html",
            ex=ex,
            record=record,
            error=None if record.last_error is None else record.last_error,
            error_text=error_text,
            timings=timings(record, self.console.now()),
            events=events_newest_first(events),
            inputs=inputs,
            inputs_problem=inputs_problem,
            outputs=outputs,
            outputs_problem=outputs_problem,
            done=self.get_argument("done", ""),
            relaunched_from=self.get_argument("from", ""),
            template=template,
            template_problem=template_problem,
            logs=_logs(ex),
            timeline=timeline(events, record, self.console.now()),
            jobs=list(dict.fromkeys(e.job for e in events if e.job)),
            flower=None if self.console.flower_url is None else self.console.flower_url.rstrip("/"),
        )

    async def _values(self, read: Callable[[], Any]) -> tuple[list[tuple[str, str]], str]:
        try:
            # Read and turned into text off the event loop: a large value takes a while.
            return await self.read(lambda: shown(read())), ""
        except Exception as exc:
            # Unreadable inputs or outputs (missing, malformed, storage refusing) are shown
            # as such; the rest of the page still is.
            return [], f"cannot show them: {exc}"


def _logs(ex: Execution) -> list[LogLink]:
    try:
        return log_links(ex.phase_info)
    except (KeyError, TypeError, ValueError):
        return []  # a malformed report: no links, the rest of the page still shows


class _Health(Page):
    async def get(self) -> None:
        try:
            await self.read(self.console.client.runtime.redis.ping)
        except Exception as exc:
            raise tornado.web.HTTPError(503, "Redis does not answer: %s", exc) from exc
        self.write("ok\n")


_PART = r"([^/]+)"


def console_app(console: Console) -> tornado.web.Application:
    """The console's tornado application."""
    kwargs = {"console": console}
    execution = f"/executions/{_PART}/{_PART}/{_PART}"
    return tornado.web.Application(
        [
            (r"/", _ListPage, kwargs),
            (execution, _ExecutionPage, kwargs),
            (f"{execution}/(abort|signal|relaunch)", Action, kwargs),
            (r"/login", Login, kwargs),
            (r"/logout", Logout, kwargs),
            (r"/healthz", _Health, kwargs),
            (OPENAPI_PATH, OpenApiHandler, {"endpoints": ENDPOINTS}),
            *api_routes(
                console.client,
                ENDPOINTS,
                console.api_max_body,
                ProxyUsers(console.trusted_header, console.users),
            ),
        ],
        template_path=str(_TEMPLATES),
        cookie_secret=console.cookie_secret,
        xsrf_cookies=True,
        login_url="/login",
        compiled_template_cache=True,
    )


def serve_console(console: Console, port: int, host: str = "127.0.0.1") -> tuple[HTTPServer, int]:
    """Listen on ``host:port`` (0: any free port) in the running event loop.

    Returns:
        The server and the port it listens on.
    """
    sockets = bind_sockets(port, host)
    # Tornado refuses a larger body before any handler runs; the API answers up to its own
    # limit, and a 413 that names it above.
    server = HTTPServer(
        console_app(console),
        xheaders=console.proxy_headers,
        max_body_size=console.api_max_body + 1024 * 1024,
    )
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])
