"""python-task runs in its own process: no worker credentials, only declared secrets.

The engine and the worker steps run in this process (time injected); each task run is
a real child process, as in a worker.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
from pathlib import Path

import pytest

from plugins.core import ErrorKind, Phase
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished, ints, template
from tests.tasks import sample

WORKER_SECRET = "redis://:hunter2-worker-password@10.0.0.1:6379/0"


@pytest.fixture(params=["fork", "spawn"])
def launcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each guarantee holds however task processes start: forked by a launcher, or spawned."""
    monkeypatch.setenv("FLYTE_CELERY_TASK_LAUNCHER", request.param)
    return str(request.param)


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # What a worker's environment holds: its Redis URL, a storage key, a task secret.
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", WORKER_SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-worker-key-0123")
    monkeypatch.setenv("_FSEC_DB_PASSWORD", "db-secret-4567")


def test_a_task_sees_none_of_the_workers_environment(harness_factory, worker_env, launcher) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.environment, {})
    h.drain()
    env = ex.result(timeout=1)
    dumped = json.dumps(env)
    for secret in (WORKER_SECRET, "aws-worker-key-0123", "db-secret-4567"):
        assert secret not in dumped
    assert not [k for k in env if k.startswith(("FLYTE_CELERY_REDIS", "AWS_", "_FSEC_"))]
    assert "PATH" in env  # the harmless basics are there


def test_without_isolation_the_task_sees_everything(
    harness_factory, worker_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The contrast that shows the test above can fail: isolation 'none' runs in the worker.
    monkeypatch.setenv("FLYTE_CELERY_TASK_ISOLATION", "none")
    h: Harness = harness_factory()
    ex = h.client.submit(sample.environment, {})
    h.drain()
    assert ex.result(timeout=1)["FLYTE_CELERY_REDIS_URL"] == WORKER_SECRET


def test_a_task_reads_its_declared_secrets_only(harness_factory, worker_env, launcher) -> None:
    h: Harness = harness_factory()
    declared = h.client.submit(sample.declared_secret, {})
    undeclared = h.client.submit(sample.undeclared_secret, {})
    h.until(finished(undeclared))
    h.drain()
    assert declared.result(timeout=1) == "db-secret-4567"
    assert undeclared.refresh().phase is Phase.PERMANENT_FAILURE
    err = undeclared.error()
    assert err is not None and err.code == "USER:SecretNotFoundError"
    assert "_FSEC_DB_PASSWORD" in err.message


def test_a_missing_declared_secret_fails_naming_it(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.declared_secret, {})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and err.code == "SecretNotFound"
    assert "db/password" in err.message


def test_passthrough_variables_reach_the_task(
    harness_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLYTE_CELERY_TASK_ENV", "HTTPS_PROXY")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    h: Harness = harness_factory()
    ex = h.client.submit(sample.environment, {})
    h.drain()
    assert ex.result(timeout=1)["HTTPS_PROXY"] == "http://proxy.example:3128"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("FLYTE_CELERY_TASK_ISOLATION", "container", "expected 'process' or 'none'"),
        ("FLYTE_CELERY_TASK_LAUNCHER", "zygote", "expected 'fork' or 'spawn'"),
        ("FLYTE_CELERY_TASK_PRELOAD", "tests.tasks.sample", "not in site-packages"),
        ("FLYTE_CELERY_TASK_PRELOAD", "no_such_package_q", "is not installed"),
        ("FLYTE_CELERY_TASK_USER", "no-such-user-q", "'no-such-user-q': no such user"),
        ("FLYTE_CELERY_TASK_ENV", "OK,not a name", "not variable names: not a name"),
    ],
)
def test_a_bad_task_setting_fails_only_python_tasks_naming_it(
    harness_factory, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    h: Harness = harness_factory()
    ex = h.client.submit(sample.add, {"a": 1})
    echo = h.client.submit(template("echo", inputs=()), {})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    message = (ex.error() or pytest.fail("no error")).message
    assert variable in message and expected in message
    assert echo.refresh().phase is Phase.SUCCESS


def test_a_process_that_dies_is_a_retryable_user_error_with_its_output(
    harness_factory, launcher
) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(sample.dies, {"code": 9})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE  # no retries left
    err = ex.error()
    assert err is not None and err.kind is ErrorKind.USER
    assert err.code == "USER:TaskProcessDied"
    assert "exited with code 9" in err.message and "about to die" in err.message


def test_task_files_load_only_from_allowed_folders(
    harness_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "elsewhere" / "evil_mod_q.py"
    outside.parent.mkdir()
    shutil.copy(Path(sample.__file__), outside)

    def pointing_at(path: Path):
        template = sample.add.to_task_template()
        args = template.custom.fields["loader_args"].list_value.values
        args[1].string_value = "evil_mod_q"  # not importable: only the file could load it
        args[5].string_value = str(path)
        return template

    h: Harness = harness_factory()
    refused = h.client.submit(pointing_at(outside), ints(a=1, b=2))
    h.drain()
    assert refused.refresh().phase is Phase.PERMANENT_FAILURE
    err = refused.error()
    assert err is not None and err.code == "TaskLoadFailed"
    assert "outside the folders" in err.message and "FLYTE_CELERY_TASK_PATHS" in err.message

    monkeypatch.setenv("FLYTE_CELERY_TASK_PATHS", str(outside.parent))
    allowed = harness_factory()
    ok = allowed.client.submit(pointing_at(outside), ints(a=1, b=2))
    allowed.drain()
    assert ok.result(timeout=1) == 3


def test_files_are_staged_in_and_out_of_remote_storage(harness_factory, launcher) -> None:
    # memory:// lives in this process only: the task's process can reach the files only
    # because the worker downloads its inputs and uploads its outputs.
    h: Harness = harness_factory(storage="memory://isolation-test/storage")
    made = h.client.submit(sample.write_file, {"text": "staged hello"})
    h.drain()
    f = made.result(timeout=1)
    assert f.remote_source is not None and f.remote_source.startswith("memory://")
    read = h.client.submit(sample.read_file, {"f": f})
    h.drain()
    assert read.result(timeout=1) == "staged hello"
    listed = h.client.submit(sample.list_folder, {"text": "in a folder"})
    h.drain()
    folder = listed.result(timeout=1)
    assert folder.remote_source.startswith("memory://")
    counted = h.client.submit(sample.count_files, {"d": folder})
    h.drain()
    assert counted.result(timeout=1) == 2


@pytest.mark.parametrize("folder", [True, False], ids=["link-in-folder", "folder-is-link"])
def test_an_output_that_links_out_of_the_task_folder_fails_and_nothing_is_uploaded(
    harness_factory, launcher, tmp_path: Path, folder: bool
) -> None:
    # The worker uploads with its own rights: following the task's link would hand the
    # submitter a file the task may not read.
    secret = tmp_path / "worker-only"
    secret.write_text("the worker's secret")
    secret.chmod(0o600)
    h: Harness = harness_factory(storage="memory://isolation-test/links")
    ex = h.client.submit(sample.link_out, {"target": str(secret), "folder": folder})
    h.drain()
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    error = ex.error()
    assert error is not None
    assert error.code == "OutputConversionError"
    assert "symbolic link" in error.message, error.message
    fs, _ = h.runtime.data_store.filesystem("memory://isolation-test/links")
    stored = [p for p in fs.find("/isolation-test/links") if "out" in p]
    assert not any(b"secret" in fs.cat(p) for p in stored)


@pytest.mark.parametrize("kind", ["task", "flytekit"])
def test_tasks_run_as_the_task_user_or_the_setting_says_why_not(
    harness_factory, monkeypatch: pytest.MonkeyPatch, launcher: str, kind: str
) -> None:
    from tests.flytekit import fktasks
    from tests.flytekit.serialize import template as flytekit_template

    monkeypatch.setenv("FLYTE_CELERY_TASK_USER", "nobody")
    h: Harness = harness_factory()
    if kind == "task":
        ex = h.client.submit(sample.whoami_user, {})
    else:
        ex = h.client.submit(flytekit_template(fktasks.whoami), {})
    h.drain()
    if ex.refresh().phase is Phase.SUCCESS:
        got = ex.outputs().literals["o0"].scalar.primitive.integer
        assert got == pwd.getpwnam("nobody").pw_uid
        return
    message = (ex.error() or pytest.fail("no error")).message
    if os.geteuid() != 0:
        assert "running tasks as another user needs a root worker" in message
    else:
        # e.g. the interpreter lives where nobody may read it: the error says so.
        assert "'nobody': that user cannot start a task process" in message


def test_a_module_that_submits_at_import_fails_at_once_naming_the_main_guard(
    harness_factory, launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the guard, the worker's import submitted again, to the default Redis (a task
    # process has no FLYTE_CELERY_* settings), and waited there a minute per attempt.
    monkeypatch.setenv("UNGUARDED_IMPORT_ONLY", "1")
    from tests.tasks import unguarded

    h: Harness = harness_factory()
    ex = h.client.submit(unguarded.inc, {"x": 1})
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    assert ex.attempt == 0  # not retried: importing it again cannot help
    err = ex.error()
    assert err is not None and 'if __name__ == "__main__":' in err.message, err
    assert "would submit again" in err.message
