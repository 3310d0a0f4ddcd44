"""``flyte-celery console``: the web console's process (see :mod:`scheduler.console.web`)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import signal
from datetime import timedelta

import click

from scheduler.cli.connect import connect
from scheduler.console import Console, Users, serve_console
from scheduler.console.api import DEFAULT_MAX_BODY
from scheduler.console.auth import parse_user_grants

__all__ = ["console"]

_REDIS_TIMEOUT = timedelta(seconds=10)


@click.command()
@click.option(
    "--port",
    type=click.IntRange(min=0),
    default=8008,
    show_default=True,
    envvar="FLYTE_CELERY_CONSOLE_PORT",
    show_envvar=True,
    help="The port (0: any).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="FLYTE_CELERY_CONSOLE_HOST",
    show_envvar=True,
    help="The address.",
)
@click.option(
    "--flower-url",
    envvar="FLYTE_CELERY_FLOWER_URL",
    show_envvar=True,
    help="Flower's address, for links to an execution's jobs.",
)
@click.option(
    "--refresh",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    envvar="FLYTE_CELERY_CONSOLE_REFRESH",
    show_envvar=True,
    help="Seconds between a page's own refreshes (0: never).",
)
@click.option("--proxy-headers", is_flag=True, envvar="FLYTE_CELERY_CONSOLE_PROXY_HEADERS",
              show_envvar=True,
              help="Behind a TLS proxy: trust its X-Forwarded-Proto and X-Real-IP.")  # fmt: skip
@click.option("--api-max-body", type=click.IntRange(min=1), default=DEFAULT_MAX_BODY,
              show_default=True, envvar="FLYTE_CELERY_API_MAX_BODY", show_envvar=True,
              help="The largest body the HTTP API reads, in bytes (larger: 413).")  # fmt: skip
def console(
    *,
    port: int,
    host: str,
    flower_url: str | None,
    refresh: float,
    proxy_headers: bool,
    api_max_body: int,
) -> int:
    """Serve the web console of executions, and the HTTP API (/api/v1), until stopped.

    Abort and signal need a user signed in: FLYTE_CELERY_CONSOLE_USERS is
    name:password[,name:password...]; without it the console is read-only.
    FLYTE_CELERY_CONSOLE_GRANTS limits each user to projects: name=grant grant;...
    (alice=submitter@ml;ops=admin@*); without it every user may act everywhere.
    FLYTE_CELERY_TRUSTED_USER_HEADER (off by default) names a header a reverse proxy sets to
    the signed-in user (for OIDC in front); set it only when the proxy alone reaches this.
    FLYTE_CELERY_CONSOLE_SECRET signs the session cookie (default: random, so a
    restart signs everyone out).
    """
    users = Users.parse(os.environ.get("FLYTE_CELERY_CONSOLE_USERS"))
    users = dataclasses.replace(
        users, grants=parse_user_grants(os.environ.get("FLYTE_CELERY_CONSOLE_GRANTS"))
    )
    secret = os.environ.get("FLYTE_CELERY_CONSOLE_SECRET") or secrets.token_hex(32)
    # Connected first: an unreachable Redis is one line now, not an error page later. A
    # Redis that stops answering fails a page after the timeout instead of hanging it.
    client = connect(timeout=_REDIS_TIMEOUT)
    site = Console(
        client,
        users=users,
        flower_url=flower_url,
        refresh=timedelta(seconds=refresh),
        cookie_secret=secret,
        proxy_headers=proxy_headers,
        api_max_body=api_max_body,
        trusted_header=os.environ.get("FLYTE_CELERY_TRUSTED_USER_HEADER") or None,
    )

    async def serve() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        server, bound = serve_console(site, port, host)
        access = (
            f"abort, signal and relaunch for {len(users.passwords)} user(s)"
            if users
            else "read-only"
        )
        click.echo(f"flyte-celery console: http://{host}:{bound}/ ({access})", nl=True)
        await stopping.wait()
        server.stop()

    try:
        asyncio.run(serve())
    finally:
        client.close()
    return 0
