"""What the CLI prints: attempts from 0, "took" from submission, first lines, live progress."""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from plugins.core import Phase
from plugins.errors import ExecutionTimeoutError
from scheduler._model import ExecutionRecord
from scheduler.cli import main
from scheduler.cli.views import first_line, took, watch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def record(**kw: object) -> ExecutionRecord:
    fields: dict[str, object] = {
        "id": "p/d/n", "project": "p", "domain": "d", "name": "n", "task_type": "echo",
        "template_uri": "memory://t", "inputs_uri": "memory://i", "output_prefix": "memory://o",
        "created_at": T0, "updated_at": T0 + timedelta(seconds=2), "phase": Phase.RUNNING,
    }  # fmt: skip
    fields.update(kw)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def test_took_runs_from_submission_to_the_end_or_to_now() -> None:
    now = T0 + timedelta(seconds=30)
    assert took(record(), now) == timedelta(seconds=30)  # running: not "since the last update"
    finished = record(phase=Phase.SUCCESS, finished=True)
    assert took(finished, now) == timedelta(seconds=2)


def test_a_table_takes_the_first_line_of_an_error() -> None:
    assert first_line("\n  ValueError: bad\nTraceback (most recent call last):\n  ...") == (
        "ValueError: bad"
    )
    assert first_line("") == ""


@dataclass
class Running:
    """An execution seen by the CLI: it finishes after ``rounds`` looks."""

    id: str
    rounds: int
    record: ExecutionRecord = field(default_factory=record)

    @property
    def phase(self) -> Phase:
        return self.record.phase

    def refresh(self) -> Running:
        self.rounds -= 1
        if self.rounds <= 0:
            self.record = replace(self.record, phase=Phase.SUCCESS, attempt=1, finished=True)
        return self


def test_a_wait_shows_a_live_line_per_execution() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    executions = [Running("p/d/a", 2), Running("p/d/b", 3)]
    watch(executions, 10, console, lambda: T0 + timedelta(seconds=5), sleep=lambda _: None)  # type: ignore[arg-type]
    shown = out.getvalue()
    for text in ("p/d/a", "p/d/b", "RUNNING", "SUCCESS", "attempt", "elapsed", "5.0s"):
        assert text in shown, text
    with pytest.raises(ExecutionTimeoutError, match=r"1 execution.*p/d/c"):
        watch([Running("p/d/c", 10**6)], 0, console, lambda: T0, sleep=lambda _: None)  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--limit", "x"], "'x' is not a valid integer"),
        (["list", "--phase", "SLEEPY"], "SLEEPY"),
        (["get"], "Missing argument 'ID'"),
        (["submit"], "submit needs --type or --template"),
        (["submit", "--type", "echo", "--wait", "-1"], "--wait"),
        (["explode"], "no command 'explode'"),
        (["submit", "--colour", "red"], "No such option '--colour'"),
        (["acl", "god", "u"], "'god' is not one of"),
    ],
)
def test_every_bad_argument_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("flyte-celery")
    assert "Traceback" not in captured.err + captured.out
