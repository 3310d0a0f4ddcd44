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

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from plugins.core import Phase
from plugins.errors import AccessDeniedError, ExecutionNotFoundError, FlyteCeleryError
from scheduler._backend import PhaseCount
from scheduler._client import Client, Execution
from scheduler._model import Cursor, ExecutionFilter
from scheduler.console.api import DEFAULT_MAX_BODY, api_routes
from scheduler.console.api_calls import ENDPOINTS
from scheduler.console.auth import Users
from scheduler.console.openapi import OPENAPI_PATH, OpenApiHandler
from scheduler.console.pages import (
    error_text,
    events_newest_first,
    execution_path,
    first_line,
    flower_jobs,
    phase_totals,
    reason_line,
    row,
    seconds,
    timings,
    when,
)
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


@dataclass
class Console:
    """What the console serves, and for whom.

    Attributes:
        client: The deployment's client.
        users: Who may sign in to abort, signal and relaunch (none: read-only).
        flower_url: Flower's address, for links to jobs (``None``: no links).
        refresh: How often open pages refresh themselves.
        page_size: Executions per page by default.
        cookie_secret: Signs the session cookie (default: random per process, so a
            restart signs everyone out).
        proxy_headers: Trust ``X-Forwarded-Proto`` and ``X-Real-IP`` (behind a TLS proxy:
            then the session cookie is ``Secure``); off, a client cannot forge them.
        api_max_body: The largest body the API reads (bytes); a larger one is a 413.
    """

    client: Client
    users: Users = field(default_factory=Users)
    flower_url: str | None = None
    refresh: timedelta = timedelta(seconds=2)
    page_size: int = 50
    proxy_headers: bool = False
    cookie_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    api_max_body: int = DEFAULT_MAX_BODY

    def now(self) -> datetime:
        """The client's clock."""
        return self.client.runtime.clock()


class _Page(tornado.web.RequestHandler):
    console: Console

    def initialize(self, console: Console) -> None:
        self.console = console

    def set_default_headers(self) -> None:
        # The abort button must not be clickable through another site's frame.
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")

    def get_current_user(self) -> str | None:
        if not self.console.users:
            return None
        raw = self.get_signed_cookie(_COOKIE, max_age_days=1)
        name = None if raw is None else raw.decode()
        return name if name is not None and name in self.console.users.passwords else None

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            console=self.console,
            user=self.current_user,
            refresh_ms=int(self.console.refresh.total_seconds() * 1000),
            execution_path=execution_path,
            first_line=first_line,
            reason_line=reason_line,
            flower_jobs=flower_jobs,
            seconds=seconds,
            when=when,
        )
        return namespace

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking Redis or storage read off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif isinstance(exc, FlyteCeleryError):
            message = str(exc)
        else:
            message = self._reason
        self.render("error.html", status=status_code, message=message)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, FlyteCeleryError):
            return  # shown on the page (Redis away, no such execution): not a server bug
        super().log_exception(typ, value, tb)


def _local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/``.

    The login form's ``next`` must not redirect elsewhere: ``//host``, a backslash
    (browsers read it as a slash) and ``https:`` all leave the site.
    """
    parts = urlsplit(target)
    unsafe = any(ord(c) < 0x20 or c == "\\" for c in target)
    local = target.startswith("/") and not target.startswith("//")
    return target if local and not unsafe and not parts.scheme and not parts.netloc else "/"


def _execution_id(project: str, domain: str, name: str) -> str:
    """The id from the page's path; a part holding ``/`` (sent as ``%2F``) names none."""
    if any("/" in part for part in (project, domain, name)):
        raise tornado.web.HTTPError(404, "no execution: an id part cannot contain '/'")
    return f"{project}/{domain}/{name}"


def _status_of(exc: FlyteCeleryError) -> int:
    """404 for no such execution, 403 for what Redis's ACL refuses, 503 otherwise (away)."""
    if isinstance(exc, ExecutionNotFoundError):
        return 404
    return 403 if isinstance(exc, AccessDeniedError) else 503


class _ListPage(_Page):
    async def get(self) -> None:
        phase_name = self.get_argument("phase", "").strip().upper()
        if phase_name and phase_name not in Phase.__members__:
            raise tornado.web.HTTPError(400, "unknown phase %r", phase_name)
        where = ExecutionFilter(
            phase=Phase[phase_name] if phase_name else None,
            task_type=self.get_argument("type", "").strip() or None,
            project=self.get_argument("project", "").strip() or None,
            domain=self.get_argument("domain", "").strip() or None,
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
            counts = await self._counts()
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(_status_of(exc), "%s", exc) from exc
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


class _ExecutionPage(_Page):
    async def get(self, project: str, domain: str, name: str) -> None:
        exec_id = _execution_id(project, domain, name)
        client = self.console.client
        try:
            ex = await self.read(client.get, exec_id)
            events = await self.read(ex.events)
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(_status_of(exc), "%s", exc) from exc
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


def _relaunch(client: Client, exec_id: str) -> str:
    """Submit the execution's template and inputs again, as a new execution: its id."""
    ex = client.get(exec_id)
    again = client.submit(
        ex.template(), client.inputs(ex.record), project=ex.record.project,
        domain=ex.record.domain,
    )  # fmt: skip
    return again.id


def _logs(ex: Execution) -> list[LogLink]:
    try:
        return log_links(ex.phase_info)
    except (KeyError, TypeError, ValueError):
        return []  # a malformed report: no links, the rest of the page still shows


class _Action(_Page):
    async def post(self, project: str, domain: str, name: str, action: str) -> None:
        user = self.current_user
        if user is None:
            raise tornado.web.HTTPError(403, "sign in to %s executions", action)
        exec_id = _execution_id(project, domain, name)
        client = self.console.client
        try:
            if action == "relaunch":
                again = await self.read(_relaunch, client, exec_id)
                query = urlencode({"done": "relaunched", "from": exec_id})
                self.redirect(f"{execution_path(again)}?{query}")
                return
            if (await self.read(client.record, exec_id)).finished:
                self.redirect(f"{execution_path(exec_id)}?done=over")  # nothing to act on
                return
            if action == "abort":
                reason = self.get_argument("reason", "").strip() or "Aborted from the console"
                await self.read(client.abort, exec_id, f"{reason} (by {user})")
            else:
                await self.read(client.signal, exec_id)
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(_status_of(exc), "%s", exc) from exc
        self.redirect(f"{execution_path(exec_id)}?done={action}")


class _Login(_Page):
    def get(self) -> None:
        self.render("login.html", failed=False, next=self.get_argument("next", "/"))

    def post(self) -> None:
        name = self.get_argument("name", "")
        target = self.get_argument("next", "/")
        if not self.console.users.check(name, self.get_argument("password", "")):
            self.set_status(401)
            self.render("login.html", failed=True, next=target)
            return
        secure = self.request.protocol == "https"
        self.set_signed_cookie(
            _COOKIE, name, expires_days=1, httponly=True, samesite="Lax", secure=secure
        )
        self.redirect(_local_path(target))


class _Logout(_Page):
    def post(self) -> None:
        self.clear_cookie(_COOKIE)
        self.redirect("/")


class _Health(_Page):
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
            (f"{execution}/(abort|signal|relaunch)", _Action, kwargs),
            (r"/login", _Login, kwargs),
            (r"/logout", _Logout, kwargs),
            (r"/healthz", _Health, kwargs),
            (OPENAPI_PATH, OpenApiHandler, {"endpoints": ENDPOINTS}),
            *api_routes(console.client, ENDPOINTS, console.api_max_body),
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
