"""The HTTP API, ``/api/v1``: what the Python ``Client`` does, for callers with a token.

Each :class:`Endpoint` names its method, path, the role it needs, its body and its answer
(pydantic models, :mod:`.api_models`); the same table routes requests and writes the
OpenAPI document (:mod:`.openapi`). The server holds the Redis and storage credentials:
a caller holds only a token (``flyte-celery token create``), sent as
``Authorization: Bearer <token>``. Every call is checked against the token's grants, per
project and domain (:class:`~scheduler._model.Caller`); a refusal is a 403 that names the
project, the domain and the role needed. Every answer that is not a 2xx is
:class:`~.api_models.ErrorView`, with the project's error code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
import tornado.web
from pydantic import BaseModel, ValidationError

from plugins.errors import (
    AccessDeniedError,
    BackendUnavailableError,
    ContentionError,
    ExecutionExistsError,
    ExecutionNotFoundError,
    FlyteCeleryError,
    MalformedProtobufError,
    StorageError,
)
from scheduler._backend import ApiTokens, SigninFailures
from scheduler._client import Client, project_error, run_as
from scheduler._model import Caller, Role
from scheduler.console.api_models import ErrorView
from scheduler.console.auth import Users

__all__ = [
    "DEFAULT_MAX_BODY",
    "ApiError",
    "Call",
    "Endpoint",
    "ProxyUsers",
    "api_routes",
    "as_api_error",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 10 * 1024 * 1024
"""The largest request body the API reads (``FLYTE_CELERY_API_MAX_BODY``)."""


@dataclass(frozen=True)
class ProxyUsers:
    """Who a trusted reverse proxy says is calling, when no token is sent.

    Attributes:
        header: The header holding the user's name (``None``: off).
        users: The console's users, whose grants a proxied user gets.
    """

    header: str | None
    users: Users

    def caller(self, headers: Mapping[str, str]) -> Caller | None:
        """The proxied user, if the proxy named one."""
        name = headers.get(self.header, "").strip() if self.header else ""
        return dataclasses.replace(self.users.caller(name), via="proxy") if name else None


class ApiError(Exception):
    """A refusal with its HTTP status, the project's error code and one message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


_STATUS: tuple[tuple[type[FlyteCeleryError], int], ...] = (
    (AccessDeniedError, 403),
    (ExecutionNotFoundError, 404),
    (ExecutionExistsError, 409),
    (ContentionError, 409),
    (BackendUnavailableError, 503),
    (MalformedProtobufError, 400),
    (StorageError, 503),
)


def as_api_error(exc: FlyteCeleryError) -> ApiError:
    """The HTTP answer to one of the project's errors (any other is the caller's: 400)."""
    status = next((s for kind, s in _STATUS if isinstance(exc, kind)), 400)
    return ApiError(status, exc.code, str(exc))


@dataclass
class Call:
    """One API call: who makes it, with what, and the client that carries it out.

    Attributes:
        client: The server's own client (its Redis and storage credentials).
        caller: Who called, with their grants.
        query: The query's arguments (the last value of each).
    """

    client: Client
    caller: Caller
    query: dict[str, str] = field(default_factory=dict)

    def require(self, need: Role, project: str, domain: str) -> None:
        """Refuse with a 403 unless the caller holds ``need`` on ``project``/``domain``."""
        self.caller.require(need, project, domain)


Run = Callable[[Call, dict[str, str], Any], Any]


@dataclass(frozen=True)
class Endpoint:
    """One operation of the API.

    Attributes:
        method: ``GET`` or ``POST``.
        path: ``/api/v1/...``, with ``{name}`` for each path part.
        summary: One line for the OpenAPI document.
        role: The least role it needs (checked again against the execution's project).
        run: Does it: gets the call, the path's parts and the parsed body.
        answer: What it returns.
        body: What it takes, if anything.
        status: Its status on success.
        query: Its query parameters and what each means.
        raw: It takes the body as bytes (an upload), not JSON.
        raw_answer: It answers bytes (a file), not JSON.
    """

    method: str
    path: str
    summary: str
    role: Role
    run: Run
    answer: type[BaseModel]
    body: type[BaseModel] | None = None
    status: int = 200
    query: tuple[tuple[str, str], ...] = ()
    raw: bool = False
    raw_answer: bool = False

    @property
    def pattern(self) -> str:
        """The path as tornado routes it: each ``{part}`` one path segment."""
        return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path)


class _ApiHandler(tornado.web.RequestHandler):
    """Serves every endpoint of one path: authenticates, parses, checks, runs, answers."""

    def initialize(
        self,
        client: Client,
        endpoints: dict[str, Endpoint],
        max_body: int,
        proxy: ProxyUsers,
    ) -> None:
        self.client = client
        self.proxy = proxy
        self.endpoints = endpoints
        self.max_body = max_body
        runtime = client.runtime
        self.tokens = ApiTokens(runtime.redis, runtime.keys)
        self.failures = SigninFailures(runtime.redis, runtime.keys)

    def check_xsrf_cookie(self) -> None:
        # A token in a header, never a cookie: another site cannot make a browser send it.
        return

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    async def get(self, **parts: str) -> None:
        await self._serve("GET", parts)

    async def post(self, **parts: str) -> None:
        await self._serve("POST", parts)

    async def _serve(self, method: str, parts: dict[str, str]) -> None:
        try:
            endpoint = self.endpoints.get(method)
            if endpoint is None:
                allowed = ", ".join(sorted(self.endpoints))
                raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed here ({allowed})")
            self._check_size()
            caller = await self._authenticate()
            json_body = self.request.headers.get("Content-Type", "").startswith("application/json")
            if caller.via == "proxy" and method == "POST" and not json_body:
                # A proxy signs in browsers, which another site can make post a form: a JSON
                # body cannot be sent across sites without the server's consent (CORS).
                raise ApiError(403, "AccessDenied", "a signed-in user's calls send JSON")
            body = self.request.body if endpoint.raw else self._body(endpoint)
            query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
            call = Call(self.client, caller, query)
            loop = asyncio.get_running_loop()
            # The audit trail names the caller on what it submits, aborts and signals.
            run = functools.partial(run_as, caller.name, endpoint.run, call, parts, body)
            answer = await loop.run_in_executor(None, run)
        except ApiError as exc:
            self._answer(exc.status, ErrorView(code=exc.code, message=exc.message))
            return
        except FlyteCeleryError as exc:
            error = as_api_error(exc)
            self._answer(error.status, ErrorView(code=error.code, message=error.message))
            return
        except redis.RedisError as exc:
            error = as_api_error(project_error(exc))
            self._answer(error.status, ErrorView(code=error.code, message=error.message))
            return
        except Exception:
            # A bug: logged whole here, one line for the caller, never a traceback.
            log.exception("API call %s %s failed", method, self.request.path)
            self._answer(500, ErrorView(code="Internal", message="the server failed; see its log"))
            return
        if endpoint.raw_answer:
            self.set_header("Content-Type", "application/octet-stream")
            self.finish(answer)
            return
        self._answer(endpoint.status, answer)

    def _check_size(self) -> None:
        size = len(self.request.body or b"")
        if size > self.max_body:
            raise ApiError(
                413,
                "PayloadTooLarge",
                f"the body is {size} bytes; the limit is {self.max_body} "
                "(FLYTE_CELERY_API_MAX_BODY)",
            )

    async def _authenticate(self) -> Caller:
        who = self.request.remote_ip or "-"
        loop = asyncio.get_running_loop()
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            proxied = self.proxy.caller(self.request.headers)
            if proxied is not None:
                return proxied
            raise ApiError(401, "Unauthenticated", "send a token: Authorization: Bearer <token>")
        info = await loop.run_in_executor(None, self.tokens.lookup, token.strip())
        if info is not None:
            return info.caller()  # a good token is never locked out by others' guesses
        if await loop.run_in_executor(None, self.failures.blocked, who):
            raise ApiError(
                429,
                "TooManyFailedSignIns",
                "too many failed sign-ins from this address; wait a minute",
            )
        await loop.run_in_executor(None, self.failures.failed, who)
        raise ApiError(401, "Unauthenticated", "the token is not valid (unknown or revoked)")

    def _body(self, endpoint: Endpoint) -> BaseModel | None:
        if endpoint.body is None:
            return None
        raw = self.request.body or b"{}"
        try:
            data = json.loads(raw)
            # Text that is no Unicode (a lone surrogate, escaped) would be stored, and then
            # break every answer that shows it.
            json.dumps(data, ensure_ascii=False).encode()
        except (ValueError, UnicodeError, RecursionError) as exc:
            raise ApiError(400, "MalformedBody", f"the body is not JSON text: {exc}") from None
        try:
            return endpoint.body.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise ApiError(400, "InvalidBody", f"the body does not fit: {problems}") from None

    def _answer(self, status: int, model: BaseModel) -> None:
        self.set_status(status)
        # Escaped as ASCII: text stored by other clients may hold what UTF-8 cannot encode.
        self.finish(json.dumps(model.model_dump(mode="json")))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # What tornado refuses before a method runs (a malformed request line, say).
        message = self._reason or "the request was refused"
        code = {405: "MethodNotAllowed", 500: "Internal"}.get(status_code, "BadRequest")
        self.set_header("Content-Type", "application/json")
        self.finish(ErrorView(code=code, message=message).model_dump_json())


def api_routes(
    client: Client,
    endpoints: list[Endpoint],
    max_body: int = DEFAULT_MAX_BODY,
    proxy: ProxyUsers | None = None,
) -> list[tuple[str, type[tornado.web.RequestHandler], dict[str, Any]]]:
    """The tornado routes of ``endpoints``: one handler per path, dispatching by method."""
    proxy = proxy or ProxyUsers(None, Users())
    by_path: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.pattern, {})[endpoint.method] = endpoint
    return [
        (
            pattern,
            _ApiHandler,
            {"client": client, "endpoints": methods, "max_body": max_body, "proxy": proxy},
        )
        for pattern, methods in by_path.items()
    ]
