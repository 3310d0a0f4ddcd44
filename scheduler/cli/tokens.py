"""``flyte-celery token create|list|revoke``: the API's tokens, made by whoever holds Redis.

A token is printed once, when it is made: only its SHA-256 is kept. Its grants say what it
may do, per project and domain (``submitter@ml``, ``viewer@ml/development``, ``admin@*``).
"""

from __future__ import annotations

from datetime import timedelta

import click

from scheduler._backend import ApiTokens
from scheduler._client import Client
from scheduler._model import parse_grants
from scheduler.cli.connect import connect
from scheduler.cli.views import table

__all__ = ["token"]

_TIMEOUT = timedelta(seconds=10)


def _tokens() -> tuple[ApiTokens, Client]:
    client = connect(timeout=_TIMEOUT)
    return ApiTokens(client.runtime.redis, client.runtime.keys), client


@click.group()
def token() -> None:
    """Make, list and revoke the HTTP API's tokens."""


@token.command()
@click.argument("name")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    required=True,
    help="role@project or role@project/domain; role is viewer, submitter or admin; "
    "project * is every project. Repeat for more.",
)
def create(name: str, grants: tuple[str, ...]) -> int:
    """Make a token NAME, print it once, and keep only its digest."""
    parsed = parse_grants(grants)
    tokens, client = _tokens()
    try:
        made, info = tokens.create(name, parsed, client.runtime.clock())
    finally:
        client.close()
    click.echo(made)
    click.echo(
        f"token {info.name!r}: {', '.join(str(g) for g in info.grants)}; shown once, keep it "
        "(send it as Authorization: Bearer <token>)",
        err=True,
    )
    return 0


@token.command(name="list")
def list_() -> int:
    """The tokens: names, grants, when made (never the tokens)."""
    tokens, client = _tokens()
    try:
        found = tokens.list()
    finally:
        client.close()
    rows = [[t.name, " ".join(str(g) for g in t.grants), t.created_at.isoformat()] for t in found]
    click.echo(table(["name", "grants", "created"], rows))
    return 0


@token.command()
@click.argument("name")
def revoke(name: str) -> int:
    """Revoke the token NAME: the next call with it is refused."""
    tokens, client = _tokens()
    try:
        revoked = tokens.revoke(name)
    finally:
        client.close()
    if not revoked:
        click.echo(f"flyte-celery token revoke: no token named {name!r}", err=True)
        return 1
    click.echo(f"revoked {name!r}")
    return 0
