"""``flyte-celery``: the command group, and the one-line answer to anything that goes wrong.

Every bad argument, bad input, unreachable Redis or failed call is one line on stderr,
``flyte-celery <command>: <what is wrong>``, and exit status 2; never a traceback (the
details go to the debug log).
"""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Sequence

import click
import redis

from plugins.errors import FlyteCeleryError
from scheduler._client import acting_as
from scheduler.cli.commands import COMMANDS as EXECUTION_COMMANDS
from scheduler.cli.console import console
from scheduler.cli.serve import COMMANDS as PROCESS_COMMANDS
from scheduler.cli.tokens import token

__all__ = ["cli", "main"]

log = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Run the flyte-celery stack, and submit and inspect executions.

    Settings come from FLYTE_CELERY_* variables (FLYTE_CELERY_REDIS_URL, FLYTE_CELERY_STORAGE);
    ./flyte-celery standalone prints the export lines for the stack it starts.
    """


for _command in (*PROCESS_COMMANDS, console, *EXECUTION_COMMANDS, token):
    cli.add_command(_command)


def _fail(command: str, message: str) -> int:
    text = " ".join(message.split()) or "failed"
    click.echo(f"flyte-celery{f' {command}' if command else ''}: {text}", err=True)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (the process's arguments by default); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), "")
    if command and command not in cli.commands:
        return _fail("", f"no command {command!r}; try: {', '.join(sorted(cli.commands))}")
    try:
        # The audit trail names the OS user on what the CLI submits, aborts and signals.
        with acting_as(_os_user()):
            result = cli.main(args=args, prog_name="flyte-celery", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        return 2
    except Exception as exc:
        return _fail(command, _describe(exc))
    return result if isinstance(result, int) else 0


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a name (a container's)
        return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, click.exceptions.Abort):
        return "interrupted"
    if isinstance(exc, FlyteCeleryError | ValueError | TimeoutError | RuntimeError | OSError):
        return str(exc)
    if isinstance(exc, redis.RedisError):
        return f"Redis: {exc}"
    # Never a traceback for the user: one line, and the details in the debug log.
    log.debug("flyte-celery failed", exc_info=exc)
    return f"{type(exc).__name__}: {exc}"
