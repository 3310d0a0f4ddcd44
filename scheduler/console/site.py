"""The console's configuration, and what every page shares: the user, errors, reads.

A signed-in user is a signed cookie, or the name a trusted reverse proxy puts in a header;
each is a :class:`~scheduler._model.Caller` with the grants of
``FLYTE_CELERY_CONSOLE_GRANTS``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import tornado.web

from plugins.errors import AccessDeniedError, ExecutionNotFoundError, FlyteCeleryError
from scheduler._client import Client
from scheduler._model import Caller
from scheduler.console.api import DEFAULT_MAX_BODY
from scheduler.console.auth import Users
from scheduler.console.pages import (
    execution_path,
    first_line,
    flower_jobs,
    reason_line,
    seconds,
    when,
)

__all__ = ["COOKIE", "Console", "Page", "execution_id_of", "local_path", "status_of"]

T = TypeVar("T")

COOKIE = "flyte_celery_user"


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
        trusted_header: A header a reverse proxy sets to the signed-in user's name (off:
            ``None``). Trusted as it is: only for a console the proxy alone can reach. The
            user's grants are ``FLYTE_CELERY_CONSOLE_GRANTS``'.
    """

    client: Client
    users: Users = field(default_factory=Users)
    flower_url: str | None = None
    refresh: timedelta = timedelta(seconds=2)
    page_size: int = 50
    proxy_headers: bool = False
    cookie_secret: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)
    api_max_body: int = DEFAULT_MAX_BODY
    trusted_header: str | None = None

    def now(self) -> datetime:
        """The client's clock."""
        return self.client.runtime.clock()


class Page(tornado.web.RequestHandler):
    """The base of the console's pages: its user, its template names, reads off the loop."""

    console: Console

    def initialize(self, console: Console) -> None:
        """Keep the console this page serves."""
        self.console = console

    def set_default_headers(self) -> None:
        """Refuse framing, keep referrers on this site."""
        # The abort button must not be clickable through another site's frame.
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "same-origin")

    def get_current_user(self) -> str | None:
        """The signed-in user: the proxy's header, else the session cookie."""
        header = self.console.trusted_header
        if header and self.request.headers.get(header, "").strip():
            # Signed in by the reverse proxy in front (OIDC, say): it alone can reach us.
            return self.request.headers[header].strip()
        if not self.console.users:
            return None
        raw = self.get_signed_cookie(COOKIE, max_age_days=1)
        name = None if raw is None else raw.decode()
        return name if name is not None and name in self.console.users.passwords else None

    def get_template_namespace(self) -> dict[str, Any]:
        """What every template may use."""
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

    def reader(self) -> Caller | None:
        """Who reads this page, when reading is per project; ``None``: everyone may read.

        With ``FLYTE_CELERY_CONSOLE_GRANTS`` or a trusted proxy header set, reading needs a
        signed-in user too, and shows only what their grants cover.

        Raises:
            tornado.web.HTTPError: 403 for a reader who is not signed in.
        """
        if self.console.users.grants is None and not self.console.trusted_header:
            return None
        user = self.current_user
        if user is None:
            raise tornado.web.HTTPError(403, "sign in to see executions")
        return self.console.users.caller(user)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking Redis or storage read off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The error page, with the message of what went wrong."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        elif isinstance(exc, FlyteCeleryError):
            message = str(exc)
        else:
            message = self._reason
        self.render("error.html", status=status_code, message=message)

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log server bugs only: the project's errors are shown on the page."""
        if isinstance(value, FlyteCeleryError):
            return  # shown on the page (Redis away, no such execution): not a server bug
        super().log_exception(typ, value, tb)


def local_path(target: str) -> str:
    """``target`` if it is a path on this site, else ``/``.

    The login form's ``next`` must not redirect elsewhere: ``//host``, a backslash
    (browsers read it as a slash) and ``https:`` all leave the site.
    """
    parts = urlsplit(target)
    unsafe = any(ord(c) < 0x20 or c == "\\" for c in target)
    local = target.startswith("/") and not target.startswith("//")
    return target if local and not unsafe and not parts.scheme and not parts.netloc else "/"


def execution_id_of(project: str, domain: str, name: str) -> str:
    """The id from the page's path; a part holding ``/`` (sent as ``%2F``) names none."""
    if any("/" in part for part in (project, domain, name)):
        raise tornado.web.HTTPError(404, "no execution: an id part cannot contain '/'")
    return f"{project}/{domain}/{name}"


def status_of(exc: FlyteCeleryError) -> int:
    """404 for no such execution, 403 for what Redis's ACL refuses, 503 otherwise (away)."""
    if isinstance(exc, ExecutionNotFoundError):
        return 404
    return 403 if isinstance(exc, AccessDeniedError) else 503
