"""flytekit's own python-task templates run through pyflyte-execute, with flytekit's semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugins.builtin.flytekit_task import is_flytekit_template, render_args
from plugins.core import ErrorKind, Phase
from plugins.errors import InvalidSubmissionError
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.flytekit import fktasks
from tests.flytekit.serialize import literals, template
from tests.tasks import sample


def test_a_flytekit_task_runs_and_its_outputs_are_read(harness_factory) -> None:
    h: Harness = harness_factory()
    t = template(fktasks.double)
    assert is_flytekit_template(t) and not is_flytekit_template(sample.add.to_task_template())
    ex = h.client.submit(t, literals(x=21))
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    assert ex.outputs().literals["o0"].scalar.primitive.integer == 42


def test_a_plain_exception_is_final_a_recoverable_one_is_retried(harness_factory) -> None:
    h: Harness = harness_factory()
    broken = h.client.submit(template(fktasks.broken), literals(n=3))
    flaky = h.client.submit(template(fktasks.flaky), literals(n=3))
    h.until(finished(flaky))
    h.until(finished(broken))
    # NON_RECOVERABLE: final at once, although the task allows two retries.
    assert broken.refresh().phase is Phase.PERMANENT_FAILURE
    assert broken.attempt == 0
    err = broken.error()
    assert err is not None and err.kind is ErrorKind.USER and "bad input 3" in err.message
    # RECOVERABLE: retried within the task's retries, then failed.
    assert flaky.refresh().phase is Phase.PERMANENT_FAILURE
    assert flaky.attempt == 2
    assert "try again later (3)" in (flaky.error() or pytest.fail("no error")).message


def test_the_result_cache_applies_to_flytekit_templates(harness_factory) -> None:
    h: Harness = harness_factory()
    t = template(fktasks.greet)
    assert t.metadata.discoverable and t.metadata.discovery_version == "1"
    first = h.client.submit(t, literals(name="ada"))
    h.drain()
    second = h.client.submit(t, literals(name="ada"))
    h.drain()
    first.refresh()
    second.refresh()
    assert first.cache_status == "POPULATED" and second.cache_status == "HIT"
    assert second.outputs().literals["o0"].scalar.primitive.string_value == "hello ada"


def test_our_own_tasks_keep_running_beside_them(harness_factory) -> None:
    h: Harness = harness_factory()
    ours = h.client.submit(sample.add, {"a": 1, "b": 2})
    theirs = h.client.submit(template(fktasks.double), literals(x=2))
    h.drain()
    assert ours.result(timeout=1) == 3
    assert theirs.refresh().phase is Phase.SUCCESS
    assert theirs.outputs().literals["o0"].scalar.primitive.integer == 4


def test_propellers_template_variables_are_rendered() -> None:
    inputs = literals(n=7)
    from flyteidl.core import literals_pb2

    args = [
        "--inputs",
        "{{.input}}",
        "{{ .OutputPrefix }}",
        "{{.inputs.n}}",
        "{{.unknown}}",
        "{{.perretryuniquekey}}",
    ]
    values = {"input": "/in/inputs.pb", "outputPrefix": "/out", "PerRetryUniqueKey": "k-0"}
    rendered = render_args(args, values, literals_pb2.LiteralMap(literals=inputs))
    assert rendered == ["--inputs", "/in/inputs.pb", "/out", "7", "{{.unknown}}", "k-0"]


FAST_MODULE = """
from flytekit import task


@task
def shout(word: str) -> str:
    return word.upper() + "!"
"""


def test_a_fast_registered_task_gets_its_code_from_storage(
    harness_factory, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib
    import sys

    from flytekit.configuration import FastSerializationSettings
    from flytekit.tools.fast_registration import fast_package

    # The code lives only in a tarball in (memory) storage: no worker could import it.
    source = tmp_path / "project"
    source.mkdir()
    (source / "fastmod_q.py").write_text(FAST_MODULE)
    archive = fast_package(source, tmp_path)
    h: Harness = harness_factory(storage="memory://fast-test/storage")
    location = "memory://fast-test/fast/code.tar.gz"
    h.runtime.data_store.write_raw(location, Path(archive).read_bytes())
    monkeypatch.syspath_prepend(str(source))
    fastmod = importlib.import_module("fastmod_q")
    fast = FastSerializationSettings(
        enabled=True, destination_dir=".", distribution_location=location
    )
    t = template(fastmod.shout, fast=fast)
    del sys.modules["fastmod_q"]
    assert t.container.args[0] == "pyflyte-fast-execute"
    ex = h.client.submit(t, literals(word="hey"))
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    assert ex.outputs().literals["o0"].scalar.primitive.string_value == "HEY!"


def test_a_map_task_is_refused_at_submit_by_name(harness_factory) -> None:
    # Flyte runs an array node once per element and gathers the outputs. Run as one task,
    # it did one element and ended SUCCESS with an int where list[int] is declared.
    from flyteidl.core import literals_pb2
    from flytekit import map_task

    h: Harness = harness_factory()
    t = template(map_task(fktasks.double))
    assert t.container.args[0] == "pyflyte-map-execute"
    xs = literals_pb2.Literal()
    for value in (1, 2, 3):
        xs.collection.literals.add().scalar.primitive.integer = value
    with pytest.raises(InvalidSubmissionError, match="is a flytekit map_task"):
        h.client.submit(t, {"x": xs})
    assert h.client.list() == []


def test_a_dynamic_task_fails_at_once_naming_dynamic_workflows(harness_factory) -> None:
    # It writes futures.pb (a workflow for the platform to run) and exits 0: not a process
    # that died and is worth retrying, but a construct that is not supported.
    h: Harness = harness_factory()
    ex = h.client.submit(template(fktasks.doubles), literals(n=3))
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    assert ex.attempt == 0
    err = ex.error()
    assert err is not None and err.code == "DynamicWorkflowUnsupported", err
    assert "@dynamic" in err.message and err.kind is ErrorKind.USER


def test_flytekit_runs_forked_with_the_runs_own_folders_and_settings(harness_factory) -> None:
    import json
    import os
    from pathlib import Path as _Path

    h: Harness = harness_factory()
    t = template(fktasks.surroundings)
    t.container.env.add(key="FLYTE_SDK_LOGGING_LEVEL", value="10")
    ex = h.client.submit(t, {})
    h.drain()
    assert ex.refresh().phase is Phase.SUCCESS, ex.error()
    seen = json.loads(ex.outputs().literals["o0"].scalar.primitive.string_value)
    assert "flyte-celery-flytekit-" in seen["tmp"]  # the run's own folder, not the launcher's
    # flytekit's working folder was made at import in the launcher: it is made again here.
    assert seen["working_directory"].startswith(seen["tmp"] + os.sep)
    assert seen["level"] == 10  # read from the run's environment, not the launcher's
    command = _Path(f"/proc/{seen['ppid']}/cmdline").read_bytes()
    assert b"plugins.builtin.launcher" in command
