"""The console's forms: abort, signal and relaunch an execution; sign in and out.

Every form carries tornado's XSRF token. An action needs a signed-in user whose grants
cover the execution's project and domain (submitter or more); the audit trail names them.
"""

from __future__ import annotations

from urllib.parse import urlencode

import tornado.web

from plugins.errors import FlyteCeleryError
from scheduler._backend import SigninFailures
from scheduler._client import Client, run_as
from scheduler._model import Role
from scheduler.console.pages import execution_path
from scheduler.console.site import COOKIE, Page, execution_id_of, local_path, status_of

__all__ = ["Action", "Login", "Logout"]


def _relaunch(client: Client, exec_id: str) -> str:
    """Submit the execution's template and inputs again, as a new execution: its id."""
    ex = client.get(exec_id)
    again = client.submit(
        ex.template(), client.inputs(ex.record), project=ex.record.project,
        domain=ex.record.domain,
    )  # fmt: skip
    return again.id


class Action(Page):
    """``POST .../abort|signal|relaunch``."""

    async def post(self, project: str, domain: str, name: str, action: str) -> None:
        """Abort, signal or relaunch, for a user whose grants cover the execution."""
        user = self.current_user
        if user is None:
            raise tornado.web.HTTPError(403, "sign in to %s executions", action)
        exec_id = execution_id_of(project, domain, name)
        client = self.console.client
        try:
            # Relaunching submits again in the same project and domain: as much as aborting.
            self.console.users.caller(user).require(Role.SUBMITTER, project, domain)
            if action == "relaunch":
                again = await self.read(run_as, user, _relaunch, client, exec_id)
                query = urlencode({"done": "relaunched", "from": exec_id})
                self.redirect(f"{execution_path(again)}?{query}")
                return
            if (await self.read(client.record, exec_id)).finished:
                self.redirect(f"{execution_path(exec_id)}?done=over")  # nothing to act on
                return
            if action == "abort":
                reason = self.get_argument("reason", "").strip() or "Aborted from the console"
                await self.read(run_as, user, client.abort, exec_id, f"{reason} (by {user})")
            else:
                await self.read(run_as, user, client.signal, exec_id)
        except FlyteCeleryError as exc:
            raise tornado.web.HTTPError(status_of(exc), "%s", exc) from exc
        self.redirect(f"{execution_path(exec_id)}?done={action}")


class Login(Page):
    """``/login``: the form, and signing in."""

    def get(self) -> None:
        """The sign-in form."""
        self.render("login.html", failed=False, next=self.get_argument("next", "/"))

    async def post(self) -> None:
        """Sign in: a signed session cookie for a day; 10 failures a minute, then 429."""
        name = self.get_argument("name", "")
        target = self.get_argument("next", "/")
        runtime = self.console.client.runtime
        failures = SigninFailures(runtime.redis, runtime.keys)
        who = self.request.remote_ip or "-"
        # Passwords can be guessed, unlike tokens: a blocked address is refused even the right
        # one, or a guess would show it was right.
        if await self.read(failures.blocked, who):
            self.set_status(429)
            self.render("login.html", failed=True, next=target)
            return
        if not self.console.users.check(name, self.get_argument("password", "")):
            await self.read(failures.failed, who)
            self.set_status(401)
            self.render("login.html", failed=True, next=target)
            return
        secure = self.request.protocol == "https"
        self.set_signed_cookie(
            COOKIE, name, expires_days=1, httponly=True, samesite="Lax", secure=secure
        )
        self.redirect(local_path(target))


class Logout(Page):
    """``POST /logout``."""

    def post(self) -> None:
        """Sign out."""
        self.clear_cookie(COOKIE)
        self.redirect("/")
