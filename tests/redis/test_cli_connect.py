"""The CLI against a real Redis: which deployment it reached, and inputs a plugin declares."""

from __future__ import annotations

import pytest

from scheduler.cli import main
from tests.helpers import RedisServer, free_port


@pytest.fixture
def no_stack_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("FLYTE_CELERY_REDIS_URL", "FLYTE_CELERY_BROKER_URL", "FLYTE_CELERY_KEY_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_the_export_lines_an_unreachable_default_says_so(
    no_stack_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if FLYTE_CELERY_REDIS_URL were not set and the default pointed where nothing listens.
    url = f"redis://127.0.0.1:{free_port()}/0"
    no_stack_env.setattr("scheduler.cli.connect.REDIS_URL_ENV", "FLYTE_CELERY_TEST_UNSET")
    no_stack_env.setenv("FLYTE_CELERY_REDIS_URL", url)
    assert main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"flyte-celery list: cannot reach Redis at {url}")
    assert "FLYTE_CELERY_REDIS_URL is not set, so this is the default" in err
    assert len(err.strip().splitlines()) == 1


def test_a_redis_no_stack_used_gets_a_warning_not_a_silent_empty_table(
    redis_server: RedisServer, no_stack_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server.client().flushall()
    # What the default would be, pointed at this test's Redis through the URL's own setting.
    no_stack_env.setattr("scheduler.cli.connect.REDIS_URL_ENV", "FLYTE_CELERY_TEST_UNSET")
    no_stack_env.setenv("FLYTE_CELERY_REDIS_URL", redis_server.url)
    assert main(["list"]) == 0
    captured = capsys.readouterr()
    assert "no flyte-celery stack has used" in captured.err
    assert "FLYTE_CELERY_REDIS_URL is not set" in captured.err


@pytest.fixture
def stack_env(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> pytest.MonkeyPatch:
    """The CLI pointed at this test's Redis and a storage of its own (the export lines)."""
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", redis_server.url)
    monkeypatch.setenv("FLYTE_CELERY_STORAGE", f"file://{tmp_path}")
    return monkeypatch


def test_submit_by_type_checks_the_inputs_its_plugin_declares(
    stack_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["submit", "--type", "core-sleep"]) == 2
    err = capsys.readouterr().err
    assert "duration" in err and len(err.strip().splitlines()) == 1
    assert main(["submit", "--type", "core-sleep", "--input", "duration=int:5"]) == 2
    assert "duration" in capsys.readouterr().err
    assert main(["submit", "--type", "core-sleep", "--input", "duration=duration:1s"]) == 0
    assert "QUEUED" in capsys.readouterr().out
    # echo declares no interface: any inputs go.
    assert main(["submit", "--type", "echo", "--input", "anything=1"]) == 0


def test_list_filters_by_type_project_and_domain(
    stack_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack_env.setenv("FLYTE_CELERY_KEY_PREFIX", "listing")
    for project, task, extra in (
        ("alpha", "echo", ["--input", "x=1"]),
        ("beta", "echo", ["--input", "x=2"]),
        ("alpha", "core-sleep", ["--input", "duration=duration:1s"]),
    ):
        assert (
            main(
                [
                    "submit",
                    "--type",
                    task,
                    "--project",
                    project,
                    "--name",
                    f"{task}-{project}",
                    *extra,
                ]
            )
            == 0
        )
    capsys.readouterr()
    assert main(["list", "--project", "alpha", "--type", "echo"]) == 0
    out = capsys.readouterr().out
    assert "alpha/development/echo-alpha" in out
    assert "beta/" not in out and "core-sleep-alpha" not in out
    assert main(["list", "--domain", "production"]) == 0
    assert "development" not in capsys.readouterr().out
