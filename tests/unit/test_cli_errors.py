"""The CLI answers bad input with one line and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.cli import main


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["submit", "--template", str(d / "missing.pb")], "cannot read the template"),
        (lambda d: ["submit", "--template", str(d / "garbage.pb")], "not a serialized flyteidl"),
        (lambda d: ["submit", "--type", "echo", "--input", "novalue"], "must look like name=value"),
        (lambda d: ["submit", "--type", "echo", "--input", "n=int:x"], "cannot read 'x' as int"),
        (lambda d: ["list", "--phase", "SLEEPY"], "SLEEPY"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    make_args, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "garbage.pb").write_bytes(b"\xff\xff\xff not protobuf")
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_an_unreachable_redis_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", "redis://127.0.0.1:9/0")  # nothing listens
    assert main(["get", "p/d/n"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flyte-celery get: cannot reach Redis at redis://127.0.0.1:9/0")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"FLYTE_CELERY_CONSOLE_USERS": "ops:pw,lonely"}, [], "entry 2 is not name:password"),
        ({"FLYTE_CELERY_CONSOLE_PORT": "http"}, [], "'http' is not a valid integer"),
        ({}, ["--refresh", "-1"], "-1"),
        ({"FLYTE_CELERY_REDIS_URL": "redis://127.0.0.1:9/0"}, [], "cannot reach Redis"),
    ],
)
def test_the_console_refuses_a_bad_setting_in_one_line(
    env: dict[str, str],
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["console", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flyte-celery console: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "pw" not in err.replace("flyte-celery console: ", "")  # no password echoed


def test_a_client_without_redis_raises_the_projects_error(tmp_path: Path) -> None:
    from plugins.errors import BackendUnavailableError
    from scheduler import Client, Settings

    settings = Settings(redis_url="redis://127.0.0.1:9/0", storage=f"file://{tmp_path}")
    with Client(settings=settings) as client:
        with pytest.raises(BackendUnavailableError, match="Redis is unavailable") as caught:
            client.get("p/d/n")
        assert isinstance(caught.value, ConnectionError)  # except ConnectionError still works
        with pytest.raises(BackendUnavailableError):
            client.list()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"type": "echo"}', "{not json"], "line 2: Expecting property name"),
        (['{"type": "echo", "color": "red"}'], "line 1: unknown field(s) color"),
        (['{"type": "echo", "template": "t.pb"}'], 'line 1: give exactly one of "type"'),
        (['{"template": "missing.pb"}'], "line 1: cannot read the template file"),
        (['{"type": "echo", "inputs": [1]}'], 'line 1: "inputs" must be an object'),
        (['{"type": "echo", "inputs": {"x": [1]}}'], "line 1: input 'x' must be a number"),
        (['{"type": "echo", "inputs": {"x": "int:one"}}'], "line 1: input 'x': cannot read"),
        (['{"type": "echo", "retries": -1}'], 'line 1: "retries" must be a whole number'),
        (['{"type": "echo", "timeout": "soon"}'], "line 1:"),
        (['"echo"'], "line 1: expected a JSON object, got str"),
        (["# only a comment", ""], "has no submissions"),
    ],
)
def test_a_bad_submissions_file_is_one_line_naming_the_line(
    lines: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert main(["submit-many", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flyte-celery submit-many: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_missing_submissions_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit-many", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
