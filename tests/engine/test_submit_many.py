"""Client.submit_many: many executions checked first, then written in batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from flyteidl.core import literals_pb2

from plugins.core import Phase
from plugins.errors import (
    ExecutionExistsError,
    InvalidSubmissionError,
    PluginNotFoundError,
    StorageError,
)
from scheduler import Submission
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.tasks import sample


def test_many_executions_of_templates_and_tasks_run(harness_factory) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    batch = [Submission(echo, ints(x=n)) for n in range(300)]
    batch += [Submission(sample.add, {"a": n}) for n in range(20)]
    executions = h.client.submit_many(batch, project="bulk")
    assert len(executions) == 320 and len({ex.id for ex in executions}) == 320
    h.drain(rounds=400)
    assert {ex.refresh().phase for ex in executions} == {Phase.SUCCESS}
    assert [ex.outputs().literals["x"].scalar.primitive.integer for ex in executions[:3]] == [
        0,
        1,
        2,
    ]
    assert [ex.result(timeout=1) for ex in executions[300:303]] == [2, 3, 4]  # b defaults to 2
    assert len(h.client.list(limit=1000)) == 320
    # One template file per distinct template, named by its content, not one per execution.
    uris = {ex.record.template_uri for ex in executions}
    assert len(uris) == 2 and all("/templates/" in uri for uri in uris)


def test_one_bad_submission_stores_none(harness_factory) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    batch = [Submission(echo, ints(x=1)), Submission(echo, {"x": "not a number"})]
    with pytest.raises(InvalidSubmissionError, match=r"^submission #1: .*'x'"):
        h.client.submit_many(batch)
    unknown = [Submission(echo, ints(x=1)), Submission(template("nope"), ints(x=1))]
    with pytest.raises(PluginNotFoundError, match=r"^submission #1: unknown task type 'nope'"):
        h.client.submit_many(unknown)
    with pytest.raises(InvalidSubmissionError, match="expected a Submission, got tuple"):
        h.client.submit_many([(echo, ints(x=1))])  # type: ignore[list-item]
    with pytest.raises(InvalidSubmissionError, match="names given twice: default/development/a"):
        h.client.submit_many([Submission(echo, ints(x=1), "a"), Submission(echo, ints(x=2), "a")])
    assert h.client.list() == []


def test_taken_names_are_listed_and_the_rest_submitted(harness_factory) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    h.client.submit(echo, ints(x=0), name="taken")
    batch = [Submission(echo, ints(x=n), name) for n, name in enumerate(["fresh", "taken"])]
    with pytest.raises(ExecutionExistsError, match=r"1 execution.*default/development/taken"):
        h.client.submit_many(batch)
    assert sorted(ex.record.name for ex in h.client.list()) == ["fresh", "taken"]
    # The refused submission wrote nothing over the files of the execution that has the name.
    taken = h.client.get("default/development/taken")
    stored = h.client.runtime.data_store.read_protobuf(
        taken.record.inputs_uri + "/inputs.pb", literals_pb2.LiteralMap
    )
    assert stored.literals["x"].scalar.primitive.integer == 0


def test_a_refused_name_keeps_the_first_execution_inputs(harness_factory) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    first = h.client.submit(echo, ints(x=7), name="kept")
    with pytest.raises(ExecutionExistsError, match="default/development/kept"):
        h.client.submit(echo, ints(x=8), name="kept")
    h.drain(rounds=100)
    assert first.refresh().phase is Phase.SUCCESS
    assert first.outputs().literals["x"].scalar.primitive.integer == 7


def test_a_storage_failure_midway_says_how_many_were_stored(harness_factory) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    # A regular file where submission #600's directory must go: its write fails.
    root = h.client.settings.storage.removeprefix("file://")
    blocked = Path(root, "executions", "default", "development", "blocked")
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("not a directory")
    batch = [Submission(echo, ints(x=n), "blocked" if n == 600 else None) for n in range(700)]
    with pytest.raises(StorageError, match=r"blocked.*; 500 execution\(s\) earlier .* stored"):
        h.client.submit_many(batch)
    assert len(h.client.list(limit=1000)) == 500
    # The first chunk was stored whole and runs.
    h.drain(rounds=400)
    assert {ex.phase for ex in h.client.list(limit=1000)} == {Phase.SUCCESS}


def test_a_name_being_submitted_elsewhere_is_refused_before_any_file_is_written(
    harness_factory,
) -> None:
    h: Harness = harness_factory()
    echo = template("echo")
    store = h.client.runtime.store
    # Another client is between its claim on the name and its create.
    assert store.indexes.claim_names(["default/development/racing"], "another-client") == set()
    # Not "already exists": no execution has the name (a cut-off submission's lapses).
    with pytest.raises(ExecutionExistsError, match=r"'default/development/racing' is held by"):
        h.client.submit(echo, ints(x=1), name="racing")
    with pytest.raises(ExecutionExistsError, match="racing"):
        h.client.submit_many([Submission(echo, ints(x=1), "racing")])
    root = Path(h.client.settings.storage.removeprefix("file://"))
    assert not (root / "executions" / "default" / "development" / "racing").exists()
    # Once that client is done, the name is free; a submission releases its own claims.
    store.indexes.release_names(["default/development/racing"])
    h.client.submit(echo, ints(x=1), name="racing")
    assert store.indexes.claim_names(["default/development/other"], "x") == set()
    store.indexes.release_names(["default/development/other"])
    with pytest.raises(ExecutionExistsError, match="already exists"):
        h.client.submit(echo, ints(x=2), name="racing")  # exists now
