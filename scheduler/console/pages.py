"""What the console's pages show, as plain data built from records and events.

One attempt numbering everywhere: attempts count from 0, as the API, the CLI and
the events do. "took" is from submission to the end, or to now while the execution
runs. The list shows an error's first line; the execution's page shows all of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

from plugins.core import ExecutionError, Phase
from scheduler._backend import PhaseCount
from scheduler._model import Event, ExecutionRecord, Step

__all__ = [
    "Row",
    "Timing",
    "error_text",
    "events_newest_first",
    "execution_path",
    "first_line",
    "outcome_line",
    "phase_totals",
    "row",
    "timings",
    "took",
    "when",
]


def execution_path(exec_id: str) -> str:
    """The console's path of an execution: each id part escaped as one path segment."""
    return "/executions/" + "/".join(quote(part, safe="") for part in exec_id.split("/", 2))


def took(record: ExecutionRecord, now: datetime) -> timedelta:
    """Submission to the end; to ``now`` while the execution has not finished."""
    end = record.updated_at if record.finished else now
    return max(timedelta(0), end - record.created_at)


def seconds(value: timedelta) -> str:
    """A duration as the CLI prints it: ``12.3s``, or ``29ms`` under a second."""
    total = value.total_seconds()
    # An isolated task takes milliseconds: "0.0s" would say it took no time at all.
    return f"{total * 1000:.0f}ms" if total < 1 else f"{total:.1f}s"


def when(value: datetime | None) -> str:
    """A UTC time to the millisecond, or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def flower_jobs(flower: str, execution_id: str | None = None) -> str:
    """Flower's job list, searched: one execution's jobs, or every job but the status polls.

    Gets poll every running execution each resync and would bury the jobs that change
    something (Create, Do, Delete, Handle). Flower's list takes a search from its URL
    (``name=``, sent as ``name:<value>``) in its own query language: terms joined by
    ``OR``, or by a space for AND, and ``args:`` for a substring of the job's arguments,
    where every job names its execution.
    """
    if execution_id is not None:
        escaped = execution_id.replace("\\", "\\\\").replace('"', '\\"')
        search = f'flyte_celery. args:"{escaped}"'
    else:
        names = [step.job_name for step in Step if step is not Step.GET]
        search = " OR name:".join(names)
    return f"{flower.rstrip('/')}/tasks?{urlencode({'name': search}, quote_via=quote)}"


def error_text(err: ExecutionError) -> str:
    """An error as ``code: message`` (the message whole, a traceback included)."""
    return f"{err.code}: {err.message}"


def first_line(text: str) -> str:
    """The first non-empty line of ``text`` (a traceback's summary)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


_TRACEBACK = "Traceback (most recent call last):"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def raised_line(text: str) -> str | None:
    """The exception a Python traceback in ``text`` ends with (its first line), if any.

    The last traceback's frames are indented below its header; the first line after them
    that is not is the exception itself (``ZeroDivisionError: division by zero``). This
    reads Python's own format and flytekit's, which indents the whole traceback.
    """
    lines = text.splitlines()
    header = next((i for i in range(len(lines) - 1, -1, -1) if _TRACEBACK in lines[i]), None)
    if header is None:
        return None
    depth = _indent(lines[header])
    for line in lines[header + 1 :]:
        if line.strip() and _indent(line) <= depth:
            return line.strip()
    return None


def reason_line(text: str) -> str:
    """A reason in one line: the exception it ends with, if it holds a traceback."""
    return raised_line(text) or first_line(text)


def error_summary(err: ExecutionError) -> str:
    """One line for an error: the exception a task raised, else ``code: message``'s first line.

    A Python task's message is a wrapper line and a traceback; what a reader wants first
    is what was raised, not the wrapper.
    """
    return raised_line(err.message) or first_line(error_text(err))


def outcome_line(record: ExecutionRecord) -> str:
    """One line on how the execution stands: the error's summary, or the reason."""
    if record.phase is Phase.ABORTED or record.last_error is None:
        return first_line(record.reason)
    return error_summary(record.last_error)


@dataclass(frozen=True)
class Row:
    """One execution in the list.

    Attributes:
        id: ``project/domain/name``.
        path: Its page on the console.
        task_name: The task's name (the template's ``id.name``); empty if it has none.
        task_type: The template's task type.
        phase: The current phase's name.
        attempt: The current attempt, from 0.
        submitted: When it was submitted.
        took: Submission to the end, or to now.
        outcome: The error's summary, or why the phase is what it is.
    """

    id: str
    path: str
    task_name: str
    task_type: str
    phase: str
    attempt: int
    submitted: str
    took: str
    outcome: str


def row(record: ExecutionRecord, now: datetime) -> Row:
    """``record`` as a row of the list."""
    return Row(
        id=record.id,
        path=execution_path(record.id),
        task_name=record.task_name,
        task_type=record.task_type,
        phase=record.phase.name,
        attempt=record.attempt,
        submitted=when(record.created_at),
        took=seconds(took(record, now)),
        outcome=outcome_line(record),
    )


@dataclass(frozen=True)
class Timing:
    """One line of an execution's timings: what, and when or how long."""

    label: str
    value: str


def timings(record: ExecutionRecord, now: datetime) -> list[Timing]:
    """Submission, last change, the end or the time so far, and what is due next."""
    rows = [
        Timing("submitted", when(record.created_at)),
        Timing("last change", when(record.updated_at)),
        Timing("finished" if record.finished else "running for", ""),
    ]
    if record.finished:
        rows[-1] = Timing(
            "finished", f"{when(record.updated_at)} (took {seconds(took(record, now))})"
        )
    else:
        rows[-1] = Timing("running for", seconds(took(record, now)))
        if record.webapi.allocation_start is not None and record.waiting_namespace is not None:
            waited = seconds(max(timedelta(0), now - record.webapi.allocation_start))
            rows.append(Timing("waiting for a quota token", f"{waited} so far"))
        if record.next_get_at is not None:
            rows.append(Timing("next status check (Get)", when(record.next_get_at)))
        if record.deadline is not None:
            rows.append(Timing("attempt deadline", when(record.deadline)))
        if record.not_before is not None:
            rows.append(Timing("retry backoff until", when(record.not_before)))
    return rows


def phase_totals(
    counts: Iterable[PhaseCount], task_type: str | None = None
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """The list's summary: the executions in each open phase, and in each terminal one.

    Open phases count the executions in them now; terminal ones, every execution that
    ever ended there (the store's counts; of one task type if given). In phase order.
    """
    totals: dict[Phase, int] = {}
    for c in counts:
        if task_type is None or c.task_type == task_type:
            totals[c.phase] = totals.get(c.phase, 0) + c.count
    ordered = [(p, n) for p, n in sorted(totals.items(), key=lambda pn: pn[0].value) if n]
    open_ = [(p.name, n) for p, n in ordered if not p.is_terminal()]
    return open_, [(p.name, n) for p, n in ordered if p.is_terminal()]


def events_newest_first(events: list[Event]) -> list[Event]:
    """The timeline as the page shows it: the latest change on top."""
    return list(reversed(events))
