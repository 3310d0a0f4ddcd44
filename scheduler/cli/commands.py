"""``flyte-celery``: run the stack, and submit and inspect executions.

Commands:
    standalone  Redis, the scheduler, a worker and Flower on this machine, until Ctrl-C.
    demo        The standalone stack plus a sample workload; prints a table of results.
    submit      Submit a task by type with typed inputs (or a TaskTemplate file).
    submit-many Submit many executions from a JSON Lines file, in one batch.
    get         Show one execution.
    list        List executions, newest first.
    events      Show an execution's phase events.
    abort       Abort an execution.
    signal      Ask for an execution's remote status now.
    acl         Print the redis-cli command that makes a Redis user of a role.
    metrics     Serve the Prometheus endpoint (the deployment's state and every process's).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import redis
from flyteidl.core import literals_pb2

from plugins.core import Phase
from plugins.errors import FlyteCeleryError
from scheduler.backend import AclRole, Keys, setuser_command
from scheduler.cli.bulk import read_submissions
from scheduler.cli.demo import DEMO_PLUGIN_SPEC, SERVICE_ENV, JobServer, flytekit_rows, workload
from scheduler.cli.inputs import parse_input, read_template, template_of_type
from scheduler.cli.standalone import Standalone
from scheduler.client import Client, Execution
from scheduler.console import serve_metrics
from scheduler.runtime import Runtime
from scheduler.settings import Settings

__all__ = ["main", "parse_input", "table"]

log = logging.getLogger(__name__)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _literal_text(lit: literals_pb2.Literal) -> str:
    prim = lit.scalar.primitive
    which = prim.WhichOneof("value")
    if which == "duration":
        return f"{prim.duration.ToTimedelta().total_seconds():g}s"
    if which == "datetime":
        return prim.datetime.ToDatetime(tzinfo=UTC).isoformat()
    if which is not None:
        return str(getattr(prim, which))
    return lit.WhichOneof("value") or "?"


def _outputs_text(ex: Execution) -> str:
    if ex.phase is Phase.SUCCESS:
        try:
            outputs = ex.outputs().literals
        except FlyteCeleryError as exc:
            # One execution with unreadable outputs must not break a listing of all of them.
            return f"unreadable outputs: {exc}"[:80]
        text = ", ".join(f"{k}={_literal_text(v)}" for k, v in sorted(outputs.items())) or "-"
        return text if ex.cache_status is None else f"{text} (cache {ex.cache_status})"
    err = ex.error()
    if ex.phase is Phase.ABORTED:
        return ex.record.reason
    return "-" if err is None else f"{err.code}: {err.message}"[:80]


def _row(ex: Execution) -> list[Any]:
    rec = ex.record
    took = (rec.updated_at - rec.created_at).total_seconds()
    return [ex.id, rec.task_type, ex.phase.name, rec.attempt + 1, f"{took:.1f}s", _outputs_text(ex)]


HEADERS = ["execution", "task type", "phase", "attempts", "took", "outputs / error"]


# -- commands ------------------------------------------------------------------------------


def _standalone(args: argparse.Namespace) -> int:
    stack = Standalone(
        Path(args.data_dir), concurrency=args.concurrency, flower_port=args.flower_port
    )
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    with stack:
        print("flyte-celery standalone is running:")
        print(table(["process", "where"], sorted(stack.locations.items())))
        settings = stack.settings
        assert settings is not None
        print("\nUse it from another shell with:")
        print(f"  export FLYTE_CELERY_REDIS_URL={settings.redis_url}")
        print(f"  export FLYTE_CELERY_STORAGE={settings.storage}")
        print("Press Ctrl-C to stop everything.", flush=True)
        try:
            while not stopping and all(p.poll() is None for p in stack.processes.values()):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        dead = [n for n, p in stack.processes.items() if p.poll() is not None]
        print("\nstopping" + (f" ({', '.join(dead)} exited; see {stack.logs})" if dead else ""))
    return 1 if dead else 0


def _demo(args: argparse.Namespace) -> int:
    server = JobServer()
    env = {
        SERVICE_ENV: server.url,
        "FLYTE_CELERY_PLUGINS": ",".join(
            p for p in (os.environ.get("FLYTE_CELERY_PLUGINS", ""), DEMO_PLUGIN_SPEC) if p
        ),
    }
    os.environ.update(env)  # the client must know the demo plugin too
    stack = Standalone(
        Path(args.data_dir), concurrency=args.concurrency, flower_port=args.flower_port, env=env
    )
    started = time.monotonic()
    with stack:
        print("stack:")
        print(table(["process", "where"], sorted(stack.locations.items())), flush=True)
        assert stack.settings is not None
        client = Client(settings=stack.settings)
        flag = Path(args.data_dir) / "demo-sensor.flag"
        flag.unlink(missing_ok=True)
        executions = []
        for template, inputs, label in [*flytekit_rows(flag), *workload()]:
            executions.append((client.submit(template, inputs, project="demo"), label))
        print(f"\nsubmitted {len(executions)} executions; waiting for them", flush=True)
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
            ex.wait(args.timeout)
        print()
        print(table(["what", *HEADERS], [[label, *_row(ex.refresh())] for ex, label in executions]))
        phases = [ex.phase for ex, _ in executions]
        succeeded = sum(p is Phase.SUCCESS for p in phases)
        aborted = sum(p is Phase.ABORTED for p in phases)
        print(
            f"\n{len(phases)} executions: {succeeded} SUCCESS, {aborted} ABORTED, "
            f"{len(phases) - succeeded - aborted} other; at most {server.max_running} demo jobs "
            f"ran at once (quota 2); {time.monotonic() - started:.1f}s in all"
        )
    server.shutdown()
    return 0 if succeeded == len(phases) - 1 and aborted == 1 else 1


def _submit(args: argparse.Namespace) -> int:
    if args.template:
        template = read_template(Path(args.template))
    elif args.type:
        template = template_of_type(args.type, args.retries, args.timeout_after)
    else:
        raise FlyteCeleryError("submit needs --type or --template")
    inputs = dict(parse_input(text) for text in args.input)
    with Client.from_settings() as client:
        ex = client.submit(
            template, inputs, project=args.project, domain=args.domain, name=args.name
        )
        if args.wait:
            ex.wait(args.wait)
        print(table(HEADERS, [_row(ex.refresh())]))
    return 0


def _submit_many(args: argparse.Namespace) -> int:
    submissions = read_submissions(Path(args.file))
    with Client.from_settings() as client:
        executions = client.submit_many(submissions, project=args.project, domain=args.domain)
    if args.ids:
        print("\n".join(ex.id for ex in executions))
    print(f"submitted {len(executions)} executions from {args.file}", file=sys.stderr)
    return 0


def _get(args: argparse.Namespace) -> int:
    with Client.from_settings() as client:
        ex = client.get(args.id)
        print(table(HEADERS, [_row(ex)]))
        err = ex.error()
        if err is not None:
            kind = f"{err.kind.name}, recoverable={err.is_recoverable}"
            print(f"\nlast error ({kind}): {err.code}: {err.message}")
    return 0


def _list(args: argparse.Namespace) -> int:
    phase = Phase.from_string(args.phase) if args.phase else None
    with Client.from_settings() as client:
        print(table(HEADERS, [_row(ex) for ex in client.list(phase=phase, limit=args.limit)]))
    return 0


def _events(args: argparse.Namespace) -> int:
    with Client.from_settings() as client:
        events = client.get(args.id).events()
        rows = [
            [e.occurred_at.isoformat(), e.attempt, e.phase.name, e.version, e.reason]
            for e in events
        ]
        print(table(["occurred at", "attempt", "phase", "version", "reason"], rows))
    return 0


def _abort(args: argparse.Namespace) -> int:
    with Client.from_settings() as client:
        client.abort(args.id, args.reason)
        print(f"abort requested for {args.id}")
    return 0


def _signal(args: argparse.Namespace) -> int:
    with Client.from_settings() as client:
        client.signal(args.id)
        print(f"signalled {args.id}")
    return 0


def _metrics(args: argparse.Namespace) -> int:
    runtime = Runtime(Settings.load())
    runtime.redis.ping()  # an unreachable Redis is one line now, not a failing scrape later
    server, _ = serve_metrics(runtime, args.port, args.host)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.set())
    print(f"flyte-celery metrics: http://{args.host}:{server.server_port}/metrics", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    server.shutdown()
    return 0


def _acl(args: argparse.Namespace) -> int:
    keys = Keys(Settings.load().key_prefix)
    password = args.password or secrets.token_urlsafe(24)
    command = setuser_command(AclRole(args.role), keys, args.user, password)
    print(shlex.join(["redis-cli", *command]))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flyte-celery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (
        ("standalone", "run the whole stack until Ctrl-C"),
        ("demo", "run the stack and a sample workload"),
    ):
        p = commands.add_parser(name, help=helptext)
        p.add_argument(
            "--data-dir",
            default=str(Path.home() / ".flyte-celery"),
            help="Redis data, storage and logs (default ~/.flyte-celery)",
        )
        p.add_argument("--concurrency", type=int, default=2, help="worker pool size (default 2)")
        p.add_argument(
            "--flower-port",
            type=int,
            default=5555,
            help="Flower's port (default 5555, or a free one)",
        )
        if name == "demo":
            p.add_argument(
                "--timeout", type=float, default=300, help="seconds to wait for the workload"
            )
    p = commands.add_parser("submit", help="submit a task")
    p.add_argument("--type", help="the task type, e.g. echo or core-sleep")
    p.add_argument("--template", help="a serialized flyteidl TaskTemplate file instead of --type")
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=[TYPE:]VALUE",
        help="an input; repeat for more",
    )
    p.add_argument("--project", default="default")
    p.add_argument("--domain", default="development")
    p.add_argument("--name", help="the execution name (random by default)")
    p.add_argument("--retries", type=int, default=0, help="user retries (with --type)")
    p.add_argument("--timeout-after", help="attempt timeout, e.g. 10m (with --type)")
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for it to finish")
    p = commands.add_parser("submit-many", help="submit many executions from a JSON Lines file")
    p.add_argument("file", help='one JSON object a line: {"type": ..., "inputs": {...}, ...}')
    p.add_argument("--project", default="default")
    p.add_argument("--domain", default="development")
    p.add_argument("--ids", action="store_true", help="print the execution ids, one a line")
    for name, helptext in (
        ("get", "show an execution"),
        ("events", "show an execution's events"),
        ("signal", "ask for a status update now"),
    ):
        commands.add_parser(name, help=helptext).add_argument("id", help="project/domain/name")
    p = commands.add_parser("abort", help="abort an execution")
    p.add_argument("id", help="project/domain/name")
    p.add_argument("--reason", default="Aborted by user")
    p = commands.add_parser("acl", help="print the redis-cli command that creates an ACL user")
    p.add_argument("role", choices=[r.value for r in AclRole], help="what the user may do")
    p.add_argument("user", help="the Redis user name")
    p.add_argument("--password", help="its password (a random one by default)")
    p = commands.add_parser("metrics", help="serve the Prometheus endpoint until stopped")
    p.add_argument("--port", type=int, default=9808, help="the port (default 9808; 0: any)")
    p.add_argument("--host", default="127.0.0.1", help="the address (default 127.0.0.1)")
    p = commands.add_parser("list", help="list executions")
    p.add_argument("--phase", help="only this phase, e.g. RUNNING")
    p.add_argument("--limit", type=int, default=50)
    return parser


_COMMANDS = {
    "standalone": _standalone,
    "demo": _demo,
    "submit": _submit,
    "submit-many": _submit_many,
    "get": _get,
    "list": _list,
    "events": _events,
    "abort": _abort,
    "signal": _signal,
    "acl": _acl,
    "metrics": _metrics,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except (FlyteCeleryError, ValueError, TimeoutError, RuntimeError) as exc:
        print(f"flyte-celery {args.command}: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:
        print(f"flyte-celery {args.command}: cannot reach Redis: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Never a traceback for the user: one line, and the details in the debug log.
        log.debug("flyte-celery %s failed", args.command, exc_info=True)
        print(f"flyte-celery {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
