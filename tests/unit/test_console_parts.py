"""The console's pure parts: its users, values as text, and what its pages show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import msgpack
import pytest
from flyteidl.core import literals_pb2

from plugins.builtin.task_run import Outcome
from plugins.core import ErrorKind, ExecutionError, Phase
from plugins.errors import ConfigError
from scheduler._backend.indexes import PhaseCount
from scheduler._model import ExecutionRecord
from scheduler.console import Users
from scheduler.console.pages import (
    error_summary,
    execution_path,
    phase_totals,
    row,
    seconds,
    timings,
    took,
)
from scheduler.console.site import local_path
from scheduler.console.values import literal_value, shown

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_users_are_read_as_flower_takes_them_and_checked() -> None:
    users = Users.parse("ops:pa:ss, viewer:x")
    assert users.check("ops", "pa:ss")  # the password is everything after the first colon
    assert users.check("viewer", "x")
    assert not users.check("ops", "x")
    assert not users.check("nobody", "x")
    assert not users.check("ops", "")
    assert not Users.parse("")
    assert not Users.parse(None)
    with pytest.raises(ConfigError, match="entry 2 is not name:password") as caught:
        Users.parse("ops:secret,lonely")
    assert "secret" not in str(caught.value)
    assert "secret" not in repr(Users.parse("ops:secret"))


def test_literals_are_shown_as_the_values_they_hold() -> None:
    values = literals_pb2.LiteralMap()
    values.literals["n"].scalar.primitive.integer = 3
    values.literals["f"].scalar.primitive.float_value = 2.5
    values.literals["s"].scalar.primitive.string_value = "hi"
    values.literals["b"].scalar.primitive.boolean = True
    for i in (1, 2):
        values.literals["xs"].collection.literals.add().scalar.primitive.integer = i
    assert dict(shown(values)) == {
        "n": "3", "f": "2.5", "s": '"hi"', "b": "true", "xs": "[1, 2]",
    }  # fmt: skip
    when = literals_pb2.Literal()
    when.scalar.primitive.datetime.FromDatetime(T0.replace(tzinfo=None))
    assert literal_value(when) == "2026-01-01T00:00:00+00:00"
    blob = literals_pb2.Literal()
    blob.scalar.blob.uri = "s3://bucket/file"
    assert literal_value(blob) == {"blob": "s3://bucket/file"}
    packed = literals_pb2.Literal()
    packed.scalar.binary.value = msgpack.packb({"a": [1, "x"]})
    packed.scalar.binary.tag = "msgpack"
    assert literal_value(packed) == {"a": [1, "x"]}
    broken = literals_pb2.Literal()
    broken.scalar.binary.value = b"\xc1"  # never valid msgpack
    broken.scalar.binary.tag = "msgpack"
    assert str(literal_value(broken)).startswith("<unreadable:")
    assert literal_value(literals_pb2.Literal()) == "<empty>"
    big = literals_pb2.LiteralMap()
    big.literals["long"].scalar.primitive.string_value = "x" * 5000
    (name, text), = shown(big)  # fmt: skip
    assert name == "long"
    assert text.endswith("more characters)")
    assert len(text) < 2100


def record(**kw: object) -> ExecutionRecord:
    fields: dict[str, object] = {
        "id": "p/d/n", "project": "p", "domain": "d", "name": "n", "task_type": "echo",
        "template_uri": "memory://t", "inputs_uri": "memory://i", "output_prefix": "memory://o",
        "created_at": T0, "updated_at": T0 + timedelta(seconds=2),
    }  # fmt: skip
    fields.update(kw)
    return ExecutionRecord(**fields)  # type: ignore[arg-type]


def test_rows_show_the_first_line_of_an_error_and_took_since_submission() -> None:
    now = T0 + timedelta(seconds=10)
    error = ExecutionError(
        "USER:ValueError", "boom\nTraceback (most recent call last):\n  x", ErrorKind.USER
    )
    failed = record(phase=Phase.PERMANENT_FAILURE, finished=True, last_error=error, reason="r")
    shown_row = row(failed, now)
    assert shown_row.outcome == "USER:ValueError: boom"
    assert shown_row.took == "2.0s"  # finished: submission to the end
    running = record(phase=Phase.RUNNING, attempt=1, reason="polling")
    assert (row(running, now).took, row(running, now).attempt) == ("10.0s", 1)
    assert took(running, now) == timedelta(seconds=10)
    assert seconds(timedelta(milliseconds=29)) == "29ms"  # not "0.0s": it took some time
    assert seconds(timedelta(seconds=1)) == "1.0s"
    aborted = record(phase=Phase.ABORTED, finished=True, last_error=error, reason="by ops")
    assert row(aborted, now).outcome == "by ops"
    labels = [t.label for t in timings(replace(running, next_get_at=now), now)]
    assert labels == ["submitted", "last change", "running for", "next status check (Get)"]
    assert [t.label for t in timings(failed, now)][-1] == "finished"


def _raised(exc: BaseException) -> ExecutionError:
    """The error a Python task's run reports for ``exc``, raised for real (a real traceback)."""
    try:
        raise exc
    except BaseException as caught:
        outcome = Outcome.user_failure("nc_failing.divide", caught)
    return ExecutionError(outcome.code, outcome.message, ErrorKind.USER)


def _divide() -> float:
    return 1 / 0


def test_an_error_is_summed_up_by_what_the_task_raised() -> None:
    now = T0 + timedelta(seconds=10)
    try:
        _divide()
    except ZeroDivisionError as exc:
        divided = _raised(exc)
    assert divided.message.startswith("Error encountered while executing 'nc_failing.divide'")
    failed = record(phase=Phase.PERMANENT_FAILURE, finished=True, last_error=divided)
    assert row(failed, now).outcome == "ZeroDivisionError: division by zero"
    # A chained exception: the one raised last, with the first line of its message.
    try:
        try:
            {}["key"]
        except KeyError as inner:
            raise ValueError("bad config\nsee the docs") from inner
    except ValueError as exc:
        chained = _raised(exc)
    assert error_summary(chained) == "ValueError: bad config"
    # flytekit indents the whole traceback under "Trace:".
    flytekit = (
        'Trace:\n\n    Traceback (most recent call last):\n      File "t.py", line 3\n'
        "        1 / 0\n    ZeroDivisionError: division by zero\n\nMessage:\n\n    ..."
    )
    error = ExecutionError("USER:ZeroDivisionError", flytekit, ErrorKind.USER)
    assert error_summary(error) == "ZeroDivisionError: division by zero"
    # No traceback: the code and the message's first line, as before.
    plain = ExecutionError("RemoteError", "the job failed\ndetails", ErrorKind.USER)
    assert error_summary(plain) == "RemoteError: the job failed"


def test_rows_carry_the_task_name() -> None:
    named = record(task_name="tests.tasks.sample.add", task_type="python-task")
    assert row(named, T0).task_name == "tests.tasks.sample.add"
    assert row(record(), T0).task_name == ""


def test_durations_and_times_read_as_themselves_and_text_stays_quoted() -> None:
    values = literals_pb2.LiteralMap()
    values.literals["wait"].scalar.primitive.duration.FromTimedelta(timedelta(minutes=15))
    values.literals["at"].scalar.primitive.datetime.FromDatetime(datetime(2026, 1, 2, 3, 4, 5))
    values.literals["note"].scalar.primitive.string_value = "900s"
    assert shown(values) == [
        ("at", "2026-01-02T03:04:05+00:00"),
        ("note", '"900s"'),  # text: quoted, so "42" and 42 read apart
        ("wait", "900s"),
    ]


def test_execution_paths_escape_each_part_as_one_segment() -> None:
    assert execution_path("p/d/n") == "/executions/p/d/n"
    assert execution_path("my proj/dev/a%b?c#d") == "/executions/my%20proj/dev/a%25b%3Fc%23d"


def test_a_value_that_is_not_json_is_still_shown() -> None:
    odd = literals_pb2.LiteralMap()
    odd.literals["k"].scalar.binary.value = msgpack.packb({b"raw": 1})  # bytes keys
    odd.literals["k"].scalar.binary.tag = "msgpack"
    assert shown(odd) == [("k", "{b'raw': 1}")]


@pytest.mark.parametrize(
    ("target", "went"),
    [
        ("/", "/"),
        ("/executions/p/d/n?done=abort", "/executions/p/d/n?done=abort"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
    ],
)
def test_sign_in_goes_back_only_to_a_page_of_the_console(target: str, went: str) -> None:
    assert local_path(target) == went


def test_the_summary_counts_open_phases_now_and_terminal_ones_in_all() -> None:
    counts = [
        PhaseCount("echo", Phase.RUNNING, 2),
        PhaseCount("sleep", Phase.RUNNING, 1),
        PhaseCount("echo", Phase.QUEUED, 0),
        PhaseCount("echo", Phase.SUCCESS, 40),
        PhaseCount("sleep", Phase.ABORTED, 3),
    ]
    assert phase_totals(counts) == ([("RUNNING", 3)], [("SUCCESS", 40), ("ABORTED", 3)])
    assert phase_totals(counts, "sleep") == ([("RUNNING", 1)], [("ABORTED", 3)])
    assert phase_totals([], "echo") == ([], [])
