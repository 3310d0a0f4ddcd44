"""What the CLI prints: tables of executions (rich), and a live line per execution on waits.

One attempt numbering everywhere: attempts count from 0, as Flyte's retry attempt does
and as ``Execution.attempt`` and the events say. "took" is the time from submission to
the end, or to now while the execution runs. A table shows the first line of an error;
``get`` shows all of it.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flyteidl.core import literals_pb2
from rich import box
from rich.console import Console
from rich.live import Live
from rich.table import Table

from plugins.core import Phase
from plugins.errors import ExecutionTimeoutError, FlyteCeleryError
from scheduler._client import Execution
from scheduler.console.pages import error_summary, error_text, first_line, seconds, took
from scheduler.console.values import primitive_value

__all__ = ["HEADERS", "execution_row", "first_line", "render", "table", "took", "watch"]

HEADERS = ["execution", "task", "task type", "phase", "attempt", "took", "outputs / error"]


# Rich's SIMPLE_HEAD drawn in ASCII: the header underlined with dashes, nothing else.
_RULE_UNDER_HEADER = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    grid = Table(box=_RULE_UNDER_HEADER, show_edge=False, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(str(header), overflow="fold")
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    return grid


def render(renderable: Any, width: int = 200) -> str:
    """``renderable`` as plain text (no colour), for output that is not a terminal."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False).print(renderable)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()).strip("\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A table with aligned columns, as plain text."""
    return render(_table(headers, rows))


def _literal_text(lit: literals_pb2.Literal) -> str:
    prim = lit.scalar.primitive
    if prim.WhichOneof("value") is not None:
        return str(primitive_value(prim))
    return lit.WhichOneof("value") or "?"


def outcome(ex: Execution, *, whole: bool = False) -> str:
    """Outputs of a success; the error of a failure (its summary unless ``whole``)."""
    if ex.phase is Phase.SUCCESS:
        try:
            outputs = ex.outputs().literals
        except FlyteCeleryError as exc:
            # One execution with unreadable outputs must not break a listing of all of them.
            return f"unreadable outputs: {first_line(str(exc))}"
        text = ", ".join(f"{k}={_literal_text(v)}" for k, v in sorted(outputs.items())) or "-"
        return text if ex.cache_status is None else f"{text} (cache {ex.cache_status})"
    if ex.phase is Phase.ABORTED:
        return ex.record.reason
    err = ex.error()
    if err is None:
        return "-"
    return error_text(err) if whole else error_summary(err)


def execution_row(ex: Execution, now: datetime) -> list[str]:
    """A table row: id, task name, task type, phase, attempt (from 0), took, outputs or error."""
    rec = ex.record
    return [
        ex.id,
        rec.task_name or "-",
        rec.task_type,
        ex.phase.name,
        str(rec.attempt),
        seconds(took(rec, now)),
        outcome(ex),
    ]


def watch(
    executions: Sequence[Execution],
    timeout: float,
    console: Console,
    clock: Callable[[], datetime],
    *,
    interval: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait for ``executions`` to finish, showing a live line each: phase, attempt, elapsed.

    On a terminal the lines update in place; otherwise the final state prints once.

    Raises:
        ExecutionTimeoutError: Some had not finished after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout

    def view() -> Table:
        now = clock()
        rows = [
            [
                ex.id,
                ex.phase.name,
                ex.record.attempt,
                seconds(took(ex.record, now)),
            ]
            for ex in executions
        ]
        return _table(["execution", "phase", "attempt", "elapsed"], rows)

    with Live(view(), console=console, transient=True, auto_refresh=False) as live:
        while True:
            for ex in executions:
                if not ex.record.finished:
                    ex.refresh()
            live.update(view(), refresh=True)
            if all(ex.record.finished for ex in executions):
                return
            if time.monotonic() >= deadline:
                waiting = [ex.id for ex in executions if not ex.record.finished]
                raise ExecutionTimeoutError(
                    f"{len(waiting)} execution(s) still running after {timeout:g}s: "
                    + ", ".join(waiting)
                )
            sleep(interval)
