"""The commands that run processes: ``standalone``, ``demo`` and ``metrics``."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click

from plugins.core import Phase
from scheduler._client import Client, Execution
from scheduler.cli.connect import connect
from scheduler.cli.demo import DEMO_PLUGIN_SPEC, SERVICE_ENV, JobServer, flytekit_rows, workload
from scheduler.cli.standalone import Standalone
from scheduler.cli.views import HEADERS, execution_row, table
from scheduler.console import serve_metrics

__all__ = ["COMMANDS"]


def _stack_options(fn: Any) -> Any:
    for flag, default, whose in (("--console-port", 8008, "The web console's"),
                                 ("--flower-port", 5555, "Flower's")):  # fmt: skip
        fn = click.option(
            flag, type=click.IntRange(min=0), default=default, show_default=True,
            help=f"{whose} port (another free one if taken; 0: any).",
        )(fn)  # fmt: skip
    fn = click.option(
        "--concurrency", type=click.IntRange(min=1), default=2, show_default=True,
        help="The worker's pool size.",
    )(fn)  # fmt: skip
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=Path.home() / ".flyte-celery",
        show_default="~/.flyte-celery",
        help="Redis data, storage and logs.",
    )(fn)


def _say_login(stack: Standalone) -> None:
    if stack.console_login is not None:
        name, password = stack.console_login
        click.echo(
            f"Console: sign in as {name} with password {password} to abort, signal and relaunch."
        )


@click.command()
@_stack_options
def standalone(data_dir: Path, concurrency: int, flower_port: int, console_port: int) -> int:
    """Run Redis, the scheduler, a worker, Flower, metrics and the console here, until Ctrl-C."""
    stack = Standalone(
        data_dir, concurrency=concurrency, flower_port=flower_port, console_port=console_port
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    with stack:
        click.echo("flyte-celery standalone is running:")
        click.echo(table(["process", "where"], sorted(stack.locations.items())))
        _say_login(stack)
        settings = stack.settings
        assert settings is not None
        click.echo("\nUse it from another shell with:")
        click.echo(f"  export FLYTE_CELERY_REDIS_URL={settings.redis_url}")
        click.echo(f"  export FLYTE_CELERY_STORAGE={settings.storage}")
        if "console" in stack.locations:
            # Client.connect() and curl reach the HTTP API there, with a token.
            server = stack.locations["console"].rstrip("/")
            click.echo(f"  export FLYTE_CELERY_SERVER_URL={server}")
            click.echo(
                "  export FLYTE_CELERY_TOKEN=$(flyte-celery token create me --grant 'admin@*')"
            )
        click.echo("Press Ctrl-C to stop everything.")
        with contextlib.suppress(KeyboardInterrupt):
            while not stopping.is_set() and all(p.poll() is None for p in stack.processes.values()):
                stopping.wait(0.5)
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        click.echo(
            "\nstopping" + (f" ({', '.join(dead)} exited; see {stack.logs})" if dead else "")
        )
    return 1 if dead else 0


@click.command()
@_stack_options
@click.option("--timeout", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds to wait for the workload.")  # fmt: skip
@click.option("--exit", "leave", is_flag=True,
              help="Stop once the table is printed (else at Enter, on a terminal).")  # fmt: skip
def demo(
    *,
    data_dir: Path,
    concurrency: int,
    flower_port: int,
    console_port: int,
    timeout: float,
    leave: bool,
) -> int:
    """Run the stack and a sample workload; print a table of the results.

    On a terminal the stack then stays up for a look (Flower, the metrics) until Enter.
    """
    server = JobServer()
    env = {
        SERVICE_ENV: server.url,
        "FLYTE_CELERY_PLUGINS": ",".join(
            p for p in (os.environ.get("FLYTE_CELERY_PLUGINS", ""), DEMO_PLUGIN_SPEC) if p
        ),
    }
    os.environ.update(env)  # the client must know the demo plugin too
    stack = Standalone(
        data_dir,
        concurrency=concurrency,
        flower_port=flower_port,
        console_port=console_port,
        env=env,
    )
    started = time.monotonic()
    with stack:
        stack.locations["demo job service"] = server.url
        click.echo("stack:")
        click.echo(table(["process", "where"], sorted(stack.locations.items())))
        assert stack.settings is not None
        client = Client(settings=stack.settings)
        flag = data_dir / "demo-sensor.flag"
        flag.unlink(missing_ok=True)
        executions = []
        for template, inputs, label in [*flytekit_rows(flag), *workload()]:
            # The first cached run replaces the entry an earlier demo left, so every run
            # shows the cache filled (POPULATED) and then used (HIT).
            overwrite = label == "python #1"
            ex = client.submit(template, inputs, project="demo", overwrite_cache=overwrite)
            executions.append((ex, label))
            if overwrite:
                # The second run goes in once the first holds the key's reservation:
                # submitted together, either could take it, and then both populate.
                _wait_past_cache_gate(ex, started + 120)
        click.echo(f"\nsubmitted {len(executions)} executions; waiting for them")
        sensors = [ex for ex, label in executions if label == "flytekit sensor"]
        while sensors and time.monotonic() - started < 120:
            phase = sensors[0].refresh().phase
            if phase is Phase.RUNNING or phase.is_terminal():
                break
            time.sleep(0.1)
        flag.write_text("the sensor's file")  # what the sensor waits for
        victim = executions[-1][0]
        while victim.refresh().phase is not Phase.RUNNING and time.monotonic() - started < 120:
            time.sleep(0.1)
        victim.abort("aborted by the demo")
        for ex, _ in executions:
            ex.wait(timeout)
        now = client.runtime.clock()
        rows = [[label, *execution_row(ex.refresh(), now)] for ex, label in executions]
        click.echo("\n" + table(["what", *HEADERS], rows))
        phases = [ex.phase for ex, _ in executions]
        succeeded = sum(p is Phase.SUCCESS for p in phases)
        aborted = sum(p is Phase.ABORTED for p in phases)
        click.echo(
            f"\n{len(phases)} executions: {succeeded} SUCCESS, {aborted} ABORTED, "
            f"{len(phases) - succeeded - aborted} other; at most {server.max_running} demo jobs "
            f"ran at once (quota 2); {time.monotonic() - started:.1f}s in all"
        )
        if not leave and sys.stdin.isatty():
            where = ", ".join(
                f"{name} {stack.locations[name]}"
                for name in ("console", "flower", "metrics")
                if name in stack.locations
            )
            click.echo(f"\nThe stack stays up for a look ({where}).")
            _say_login(stack)
            click.echo("Press Enter to stop it.")
            with contextlib.suppress(EOFError, KeyboardInterrupt):
                input()
    server.shutdown()
    return 0 if succeeded == len(phases) - 1 and aborted == 1 else 1


def _wait_past_cache_gate(ex: Execution, deadline: float) -> None:
    """Wait until ``ex`` has passed the cache gate (it holds the reservation) or ended."""
    while time.monotonic() < deadline:
        ex.refresh()
        if ex.cache_status is not None or ex.phase.is_terminal():
            return
        time.sleep(0.05)


@click.command()
@click.option("--port", type=click.IntRange(min=0), default=9808, show_default=True,
              help="The port (0: any).")  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="The address.")
def metrics(port: int, host: str) -> int:
    """Serve the Prometheus endpoint until stopped."""
    # Connected first: an unreachable Redis is one line now, not a failing scrape later.
    server, _ = serve_metrics(connect().runtime, port, host)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    click.echo(f"flyte-celery metrics: http://{host}:{server.server_port}/metrics")
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    server.shutdown()
    return 0


COMMANDS = [standalone, demo, metrics]
"""The commands of this module, for the group (:mod:`.app`)."""
