"""flytekit task objects submitted as they are, their Python inputs and results.

A flytekit user hands ``Client.submit`` the ``@task`` itself (serialized here as ``pyflyte
register`` does), a dataclass instance as an input, or the admin ``TaskSpec`` that
``pyflyte package`` writes; results come back as flytekit returns them, a
``StructuredDataset`` included.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flyteidl.admin import task_pb2
from flyteidl.core import literals_pb2, types_pb2
from flytekit import StructuredDataset
from flytekit.types.directory import FlyteDirectory
from flytekit.types.file import FlyteFile

from plugins.errors import InvalidSubmissionError, OutputConversionError
from plugins.flytekit.values import guessed_python_value
from scheduler.cli.inputs import read_template
from tests.engine.conftest import EngineHarness as Harness
from tests.flytekit import fktasks
from tests.flytekit.serialize import literals, template


def test_a_flytekit_task_object_is_submitted_and_its_result_read(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(fktasks.double, {"x": 21})
    h.drain()
    assert ex.result(timeout=5) == 42
    assert ex.record.task_name == "tests.flytekit.fktasks.double"
    assert ex.template().container.args == template(fktasks.double).container.args
    several = h.client.submit(fktasks.pair, {"n": 1})
    h.drain()
    assert several.result(timeout=5) == (2, "n=1")


def test_a_dataclass_instance_is_an_input_of_a_task_object_and_of_a_template(
    harness_factory,
) -> None:
    h: Harness = harness_factory()
    from_object = h.client.submit(fktasks.norm, {"p": fktasks.Point(3, 4)})  # scale defaults
    from_template = h.client.submit(template(fktasks.norm), {"p": fktasks.Point(6, 8), "scale": 2})
    h.drain()
    assert from_object.result(timeout=5) == 5.0
    assert from_template.result(timeout=5) == 20.0


def test_bad_python_inputs_of_a_task_object_are_named(harness_factory) -> None:
    h: Harness = harness_factory()
    with pytest.raises(
        InvalidSubmissionError, match=r"'p' of task 'tests\.flytekit\.fktasks\.norm'"
    ):
        h.client.submit(fktasks.norm, {"p": "not a point"})
    with pytest.raises(InvalidSubmissionError, match="has no input 'q'"):
        h.client.submit(fktasks.norm, {"q": 1})
    with pytest.raises(InvalidSubmissionError, match=r"fktasks\.norm': missing inputs: p"):
        h.client.submit(fktasks.norm, {})


def test_a_workflow_is_refused_by_name(harness_factory) -> None:
    h: Harness = harness_factory()
    with pytest.raises(InvalidSubmissionError, match="workflows and launch plans are not"):
        h.client.submit(fktasks.doubled_twice, {"x": 1})


def test_an_admin_task_spec_is_submitted_from_python_and_from_a_file(
    harness_factory, tmp_path: Path
) -> None:
    h: Harness = harness_factory()
    spec = task_pb2.TaskSpec(template=template(fktasks.double))
    ex = h.client.submit(spec, literals(x=4))
    path = tmp_path / "1_tests.flytekit.fktasks.double_1.pb"  # as pyflyte package names it
    path.write_bytes(spec.SerializeToString())
    assert read_template(path) == spec.template
    h.drain()
    assert ex.result(timeout=5) == 8
    described = task_pb2.TaskSpec(template=spec.template)
    described.description.short_description = "Doubles x."  # lands on a template's type
    path.write_bytes(described.SerializeToString())
    assert read_template(path) == spec.template
    plain = tmp_path / "task.pb"
    plain.write_bytes(spec.template.SerializeToString())
    assert read_template(plain) == spec.template


def test_a_structured_dataset_comes_back_as_flytekit_gives_it(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template(fktasks.dataset), literals(rows=3))  # no task object
    h.drain()
    result = ex.result(timeout=5)
    assert isinstance(result, StructuredDataset) and result.file_format == "parquet"
    path = result.literal.uri  # flytekit keeps a read dataset's location on its literal
    assert f"file://{path}".startswith(h.runtime.settings.storage.rstrip("/"))  # a plain path
    files = list(Path(path).iterdir())
    assert [f.read_bytes() for f in files] == [b"rows=3"]


def test_without_flytekit_such_an_output_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flytekit.core.type_engine", None)  # import fails
    literal_type = types_pb2.LiteralType(structured_dataset_type=types_pb2.StructuredDatasetType())
    with pytest.raises(OutputConversionError, match=r"only flytekit reads.*flytekit\] extra"):
        guessed_python_value("o0", literals_pb2.Literal(), literal_type)


@pytest.mark.parametrize("storage", ["file", "memory"])
def test_files_and_folders_cross_both_ways(harness_factory, tmp_path: Path, storage: str) -> None:
    # memory:// stands for an object store: remote to the task's process, which gets copies.
    where = f"memory://objects-{tmp_path.name}" if storage == "memory" else f"file://{tmp_path}/s"
    h: Harness = harness_factory(storage=where)
    source = tmp_path / "note.txt"
    source.write_text("hello")
    folder = tmp_path / "folder"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / name).write_text("")
    shouted = h.client.submit(fktasks.shout, {"f": FlyteFile(str(source))})
    listed = h.client.submit(fktasks.listing, {"d": FlyteDirectory(str(folder))})
    h.drain()
    out = shouted.result(timeout=5)
    assert Path(out.download()).read_text() == "HELLO", shouted.error()
    names, copy = listed.result(timeout=5)
    assert names == ["a", "b"], listed.error()
    assert sorted(p.name for p in Path(copy.download()).iterdir()) == ["a", "b"]
    # Read without the task object, the outputs are flytekit's types too.
    again = h.client.get(shouted.id).result(timeout=5)
    assert Path(again.download()).read_text() == "HELLO"


def test_a_file_input_of_a_template_stays_a_file(harness_factory, tmp_path: Path) -> None:
    # flytekit's FlyteFile is a dataclass too: only a STRUCT input takes a dataclass's fields.
    h: Harness = harness_factory()
    source = tmp_path / "note.txt"
    source.write_text("quiet")
    ex = h.client.submit(template(fktasks.shout), {"f": FlyteFile(str(source))})
    h.drain()
    assert Path(ex.result(timeout=5).download()).read_text() == "QUIET", ex.error()
