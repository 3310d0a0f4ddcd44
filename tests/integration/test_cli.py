"""The flyte-celery CLI against real processes: commands, standalone, and the demo."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import redis
from flyteidl.core import tasks_pb2

from scheduler._client import Client
from scheduler.cli import main, parse_input, table
from tests.helpers import wait_for
from tests.integration.browser import console_post
from tests.integration.stack import ROOT, Stack

CLI = [sys.executable, "-m", "scheduler.cli"]


def test_parse_input() -> None:
    assert parse_input("n=5")[1].scalar.primitive.integer == 5
    assert parse_input("x=2.5")[1].scalar.primitive.float_value == 2.5
    assert parse_input("ok=true")[1].scalar.primitive.boolean is True
    assert parse_input("s=hello")[1].scalar.primitive.string_value == "hello"
    assert parse_input("s=str:5")[1].scalar.primitive.string_value == "5"
    duration = parse_input("duration=duration:1m30s")[1].scalar.primitive.duration
    assert duration.ToTimedelta().total_seconds() == 90
    with pytest.raises(ValueError, match="name=value"):
        parse_input("novalue")
    with pytest.raises(ValueError, match="'n'"):
        parse_input("n=int:five")


def test_table() -> None:
    assert table(["a", "bb"], [[1, "x"]]) == "a   bb\n------\n1   x"


def test_submit_of_a_served_type_loads_no_other_plugin(stack: Stack) -> None:
    # The workers serve echo: the CLI loads echo's entry alone for its interface, and no
    # other plugin (the flytekit connectors' entry would import flytekit: seconds).
    script = (
        "import runpy, sys\n"
        "sys.argv = ['flyte-celery', 'submit', '--type', 'echo', '--input', 'n=7', "
        "'--project', 'cli', '--name', 'cli-light', '--wait', '60']\n"
        "try:\n"
        "    runpy.run_module('scheduler.cli', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print('EXIT', exc.code)\n"
        "print('FLYTEKIT', 'flytekit' in sys.modules)\n"
    )
    done = stack.run_python(script)
    assert "EXIT 0" in done.stdout, done.stdout + done.stderr
    assert "n=7" in done.stdout  # the input, typed by echo's declared interface
    assert "FLYTEKIT False" in done.stdout


def test_commands(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in stack.env.items():
        if key.startswith("FLYTE_CELERY_"):
            monkeypatch.setenv(key, value)
    assert (
        main(
            [
                "submit",
                "--type",
                "echo",
                "--input",
                "n=42",
                "--project",
                "cli",
                "--name",
                "cli-echo",
                "--wait",
                "60",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "cli/development/cli-echo" in out and "SUCCESS" in out and "n=42" in out
    assert main(["get", "cli/development/cli-echo"]) == 0
    assert "SUCCESS" in capsys.readouterr().out
    assert main(["events", "cli/development/cli-echo"]) == 0
    events = capsys.readouterr().out
    assert "QUEUED" in events and "SUCCESS" in events
    assert main(["list", "--phase", "SUCCESS", "--limit", "500"]) == 0
    assert "cli/development/cli-echo" in capsys.readouterr().out
    assert main(["signal", "cli/development/cli-echo"]) == 0
    assert main(["get", "--wait", "60", "cli/development/cli-echo"]) == 0
    capsys.readouterr()
    assert main(["abort", "cli/development/cli-echo"]) == 1  # ended: nothing to abort
    assert "already ended SUCCESS: nothing to abort" in capsys.readouterr().err
    # A failure gates a script: exit status 1 (the first attempt's Create fails).
    failing = ["submit", "--type", "flaky_create", "--project", "cli", "--name", "cli-fails"]
    assert main([*failing, "--wait", "60"]) == 1
    assert "PERMANENT_FAILURE" in capsys.readouterr().out
    assert main(["get", "--wait", "60", "cli/development/cli-fails"]) == 1
    assert main(["get", "cli/development/cli-fails"]) == 0  # no wait: it just shows
    capsys.readouterr()
    assert main(["get", "cli/development/nope"]) == 2
    assert "no execution 'cli/development/nope'" in capsys.readouterr().err
    assert main(["submit", "--type", "spark"]) == 2
    assert "unknown task type 'spark'" in capsys.readouterr().err


def test_submit_many_reads_a_json_lines_file(
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in stack.env.items():
        if key.startswith("FLYTE_CELERY_"):
            monkeypatch.setenv(key, value)
    (tmp_path / "echo.pb").write_bytes(tasks_pb2.TaskTemplate(type="echo").SerializeToString())
    lines = [
        "# three runs: by type, by template file, with a name",
        '{"type": "echo", "inputs": {"n": 1, "ok": true}}',
        '{"template": "echo.pb", "inputs": {"s": "str:2"}}',
        '{"type": "echo", "name": "bulk-3", "retries": 1, "inputs": {"d": "duration:1m"}}',
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    path = str(tmp_path / "runs.jsonl")
    assert main(["submit-many", path, "--project", "bulk", "--ids"]) == 0
    captured = capsys.readouterr()
    ids = captured.out.split()
    assert len(ids) == 3 and ids[2] == "bulk/development/bulk-3"
    assert f"submitted 3 executions from {path}" in captured.err
    with Client.from_settings() as client:
        executions = [client.get(i) for i in ids]
        for ex in executions:
            ex.wait(60)
        outputs = [ex.outputs().literals for ex in executions]
    assert outputs[0]["n"].scalar.primitive.integer == 1
    assert outputs[0]["ok"].scalar.primitive.boolean is True
    assert outputs[1]["s"].scalar.primitive.string_value == "2"
    assert outputs[2]["d"].scalar.primitive.duration.ToTimedelta().total_seconds() == 60
    assert executions[2].record.retries == 1
    # Submitted again, the named one is taken: nothing of the file is stored twice.
    assert main(["submit-many", path, "--project", "bulk"]) == 2
    assert "bulk/development/bulk-3" in capsys.readouterr().err


def sign_in(console: str, name: str, password: str) -> str:
    """Sign in to the console as a browser would; where it sends us, or ``refused``."""
    form = {"name": name, "password": password, "next": "/"}
    status, _, path = console_post(console.rstrip("/"), "/login", form)
    return "refused" if status == 401 else path if status == 200 else str(status)


def test_standalone_starts_everything_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_CELERY_")}
    env["PYTHONPATH"] = str(ROOT)
    log = (tmp_path / "standalone.out").open("wb")
    process = subprocess.Popen(
        [*CLI, "standalone", "--data-dir", str(tmp_path / "data"), "--flower-port", "0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    output = tmp_path / "standalone.out"
    try:
        wait_for(lambda: "Press Ctrl-C" in output.read_text(), timeout=90, what="the stack")
        text = output.read_text()
        for name in ("redis", "scheduler", "worker", "flower", "storage", "metrics", "console"):
            assert re.search(rf"^{name}\s", text, re.M), name
        console = re.search(r"^console\s+(\S+)", text, re.M).group(1)  # type: ignore[union-attr]
        login = re.search(r"sign in as admin with password (\S+) ", text)
        assert login is not None, text
        url = re.search(r"FLYTE_CELERY_REDIS_URL=(\S+)", text).group(1)  # type: ignore[union-attr]
        storage = re.search(r"FLYTE_CELERY_STORAGE=(\S+)", text).group(1)  # type: ignore[union-attr]
        cli_env = dict(env, FLYTE_CELERY_REDIS_URL=url, FLYTE_CELERY_STORAGE=storage)
        submitted = subprocess.run(
            [*CLI, "submit", "--type", "echo", "--input", "x=1", "--wait", "60"],
            env=cli_env, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        assert "SUCCESS" in submitted.stdout
        # The console lists it, and takes the printed password (and no other).
        exec_id = re.search(r"^(default/development/\S+)", submitted.stdout, re.M)
        assert exec_id is not None, submitted.stdout
        with urllib.request.urlopen(console, timeout=30) as page:
            assert exec_id.group(1) in page.read().decode()
        assert sign_in(console, "admin", login.group(1)) == "/"
        assert sign_in(console, "admin", login.group(1) + "x") == "refused"
        # A second stack on the same data folder is refused at once, naming the first.
        second = subprocess.run(
            [*CLI, "demo", "--exit", "--data-dir", str(tmp_path / "data")],
            env=env, capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        )  # fmt: skip
        assert second.returncode == 2, second.stdout + second.stderr
        assert "is in use by another stack (flyte-celery standalone, pid" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1, second.stderr
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0
        client = redis.Redis.from_url(url)
        with pytest.raises(redis.ConnectionError):
            client.ping()  # its private Redis stopped with it
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def test_the_demo_runs_the_whole_stack_and_prints_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_CELERY_")}
    env["PYTHONPATH"] = str(ROOT)
    # Twice in one data directory: the second run finds the first one's Redis and cache.
    for run in (1, 2):
        result = subprocess.run(
            [*CLI, "demo", "--data-dir", str(tmp_path / "demo"), "--flower-port", "0", "--exit"],
            env=env, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        # Every process it started is listed, the demo's job service included.
        listed = {line.split("  ")[0] for line in result.stdout.split("\n\n")[0].splitlines()}
        for name in ("redis", "scheduler", "worker", "flower", "metrics", "console",
                     "demo job service"):  # fmt: skip
            assert name in listed, (run, name)
        # The flytekit extra is installed: its task and sensor rows are in the table too.
        assert "15 executions: 14 SUCCESS, 1 ABORTED, 0 other" in result.stdout
        assert "at most 2 demo jobs ran at once (quota 2)" in result.stdout
        for kind in ("echo", "core-sleep", "demo_job", "python-task", "sensor"):
            assert kind in result.stdout
        rows = {line.split("  ")[0]: line for line in result.stdout.splitlines()}
        assert "SUCCESS" in rows["flytekit task"] and "o0=42" in rows["flytekit task"]
        assert "SUCCESS" in rows["flytekit sensor"]
        # The identical python tasks: on every run, one fills the cache, the other uses it.
        assert "mean=3.0, size=3 (cache POPULATED)" in rows["python #1"], run
        assert "mean=3.0, size=3 (cache HIT)" in rows["python #2"], run
        assert " 0 " in rows["python #1"]  # attempts count from 0
