"""The commands that submit and inspect executions (click), printing with rich.

``submit``, ``submit-many``, ``get``, ``list``, ``events``, ``abort``, ``signal`` and
``acl``; the stack's own commands are in :mod:`.serve`, the group and its error handling
in :mod:`.app`.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Sequence
from pathlib import Path

import click
from flyteidl.core import tasks_pb2
from rich.console import Console

from plugins.core import Phase, PluginRegistry
from plugins.errors import PluginError
from scheduler._backend import AclRole, ShardMap, setuser_command
from scheduler._client import Client, Execution
from scheduler.cli.bulk import read_submissions
from scheduler.cli.connect import AnyClient, clock_of, connect_user
from scheduler.cli.inputs import parse_input, read_template, template_of_type
from scheduler.cli.views import HEADERS, execution_row, outcome, table, watch
from scheduler.settings import Settings

__all__ = ["COMMANDS"]

_PHASES = click.Choice([p.name for p in Phase], case_sensitive=False)


def _typed_template(
    client: AnyClient, task_type: str, retries: int, timeout: str | None
) -> tasks_pb2.TaskTemplate:
    """A template of ``task_type``, with the interface its plugin declares, if it does."""
    template = template_of_type(task_type, retries, timeout)
    entry = None
    if isinstance(client, Client):
        # The plugin a running worker serves it with, loaded alone: the registry would load
        # every plugin here, and the flytekit connectors' import flytekit (seconds).
        served = client.runtime.served.lookup(task_type)
        entry = None if served is None else PluginRegistry.published_entry(served)
    if entry is None or task_type not in entry.task_types:
        try:
            if isinstance(client, Client):
                registry = client.runtime.plugins.registry
            else:  # only this machine's plugins: the server checks the rest
                registry = PluginRegistry()
                registry.load_entry_points()
            entry = registry.entry_for(task_type)
        except PluginError:
            return template  # served elsewhere, or unknown: submit says which
    declared = getattr(entry, "task_interface", None)
    if declared is not None:
        template.interface.CopyFrom(declared)
    return template


@click.command()
@click.option("--type", "task_type", help="The task type, e.g. echo or core-sleep.")
@click.option(
    "--template",
    type=click.Path(path_type=Path),
    help="A serialized flyteidl TaskTemplate file (or an admin TaskSpec, as pyflyte package "
    "writes) instead of --type.",
)
@click.option(
    "--input", "inputs", multiple=True, metavar="NAME=[TYPE:]VALUE", help="An input; repeat."
)
@click.option("--project", default="default", show_default=True)
@click.option("--domain", default="development", show_default=True)
@click.option("--name", help="The execution name (random by default).")
@click.option("--retries", type=click.IntRange(min=0), default=0, help="User retries (--type).")
@click.option("--timeout-after", help="The attempt timeout, e.g. 10m (--type).")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for it to finish, with a live line of progress.",
)
def submit(
    *,
    task_type: str | None,
    template: Path | None,
    inputs: tuple[str, ...],
    project: str,
    domain: str,
    name: str | None,
    retries: int,
    timeout_after: str | None,
    wait: float,
) -> int:
    """Submit a task by type with typed inputs, or a TaskTemplate file.

    Inputs are checked at submit against the template's interface: a template file's,
    or, with --type, the one the type's plugin declares (core-sleep: duration). A type
    whose plugin declares none (echo) takes any inputs.
    """
    if template is None and not task_type:
        raise click.UsageError("submit needs --type or --template")
    values = dict(parse_input(text) for text in inputs)
    # A bad file is named before Redis is asked anything.
    task = read_template(template) if template is not None else None
    with connect_user() as client:
        if task is None:
            assert task_type is not None
            task = _typed_template(client, task_type, retries, timeout_after)
        ex = client.submit(task, values, project=project, domain=domain, name=name)
        if wait:
            watch([ex], wait, Console(stderr=True), clock_of(client))
        click.echo(table(HEADERS, [execution_row(ex.refresh(), clock_of(client)())]))
    return ended_status([ex]) if wait else 0


@click.command("submit-many")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--project", default="default", show_default=True)
@click.option("--domain", default="development", show_default=True)
@click.option("--ids", is_flag=True, help="Print the execution ids, one a line.")
@click.option("--wait", type=click.FloatRange(min=0), default=0, help="Seconds to wait for all.")
def submit_many(file: Path, project: str, domain: str, ids: bool, wait: float) -> int:
    """Submit many executions from a JSON Lines file, in one batch.

    One JSON object a line: {"type": ..., "inputs": {...}, "name": ..., "retries": ...}.
    """
    submissions = read_submissions(file)
    with connect_user() as client:
        executions = client.submit_many(submissions, project=project, domain=domain)
        if ids:
            click.echo("\n".join(ex.id for ex in executions))
        click.echo(f"submitted {len(executions)} executions from {file}", err=True)
        if wait:
            watch(executions, wait, Console(stderr=True), clock_of(client))
            now = clock_of(client)()
            click.echo(table(HEADERS, [execution_row(ex, now) for ex in executions]))
    return ended_status(executions) if wait else 0


@click.command()
@click.argument("execution_id", metavar="ID")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0,
    help="Seconds to wait for it to finish; the exit status then says how it ended.",
)
def get(execution_id: str, wait: float) -> int:
    """Show one execution (project/domain/name), with all of its error."""
    with connect_user() as client:
        ex = client.get(execution_id)
        if wait:
            watch([ex], wait, Console(stderr=True), clock_of(client))
        click.echo(table(HEADERS, [execution_row(ex.refresh(), clock_of(client)())]))
        err = ex.error()
        if err is not None:
            kind = f"{err.kind.name}, recoverable={err.is_recoverable}"
            click.echo(f"\nlast error ({kind}):\n{outcome(ex, whole=True)}")
    return ended_status([ex]) if wait else 0


def ended_status(executions: Sequence[Execution]) -> int:
    """The exit status after waiting: 0 if every execution succeeded, else 1."""
    return 0 if all(ex.phase is Phase.SUCCESS for ex in executions) else 1


@click.command("list")
@click.option("--phase", type=_PHASES, help="Only this phase, e.g. RUNNING.")
@click.option("--type", "task_type", help="Only this task type.")
@click.option("--task", "task_name", help="Only this task, by name (e.g. tasks.divide).")
@click.option("--project", help="Only this project.")
@click.option("--domain", help="Only this domain.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def list_(
    *,
    phase: str | None,
    task_type: str | None,
    task_name: str | None,
    project: str | None,
    domain: str | None,
    limit: int,
) -> int:
    """List executions, newest first (errors by their summary: what the task raised)."""
    wanted = Phase[phase.upper()] if phase else None
    with connect_user() as client:
        now = clock_of(client)()
        found = client.list(
            phase=wanted, limit=limit, task_type=task_type, project=project, domain=domain,
            task_name=task_name,
        )  # fmt: skip
        click.echo(table(HEADERS, [execution_row(ex, now) for ex in found]))
    return 0


@click.command()
@click.argument("execution_id", metavar="ID")
def events(execution_id: str) -> int:
    """Show an execution's phase events (attempts from 0)."""
    with connect_user() as client:
        rows = [
            [e.occurred_at.isoformat(), e.attempt, e.phase.name, e.version, e.reason, e.actor or ""]
            for e in client.get(execution_id).events()
        ]
        headers = ["occurred at", "attempt", "phase", "version", "reason", "by"]
        click.echo(table(headers, rows))
    return 0


@click.command()
@click.argument("execution_id", metavar="ID")
@click.option("--reason", default="Aborted by user", show_default=True)
def abort(execution_id: str, reason: str) -> int:
    """Abort an execution."""
    with connect_user() as client:
        ex = client.get(execution_id)
        if ex.phase.is_terminal():
            click.echo(f"{execution_id} already ended {ex.phase.name}: nothing to abort", err=True)
            return 1
        client.abort(execution_id, reason)
        click.echo(f"abort requested for {execution_id}")
    return 0


@click.command("signal")
@click.argument("execution_id", metavar="ID")
def signal_(execution_id: str) -> int:
    """Ask for an execution's remote status now."""
    with connect_user() as client:
        client.signal(execution_id)
        click.echo(f"signalled {execution_id}")
    return 0


@click.command()
@click.argument("role", type=click.Choice([r.value for r in AclRole]))
@click.argument("user")
@click.option("--password", help="Its password (a random one by default).")
def acl(role: str, user: str, password: str | None) -> int:
    """Print the redis-cli command that makes a Redis user of ROLE."""
    settings = Settings.load()
    shards = ShardMap(settings.key_prefix, settings.shards)
    command = setuser_command(AclRole(role), shards, user, password or secrets.token_urlsafe(24))
    click.echo(shlex.join(["redis-cli", *command]))
    return 0


COMMANDS = [submit, submit_many, get, list_, events, abort, signal_, acl]
"""The commands of this module, for the group (:mod:`.app`)."""
