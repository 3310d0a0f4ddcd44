"""Task, PythonTask and @task: templates, local calls, resolvers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import interface_pb2, tasks_pb2, types_pb2
from google.protobuf import struct_pb2

from plugins.builtin import EchoTask, SleepTask
from plugins.errors import InputConversionError, TaskLoadError
from plugins.idl import struct_to_dict
from plugins.tasks import (
    Interface,
    PythonFunctionTask,
    PythonTask,
    SerializationSettings,
    Task,
    TaskMetadata,
    default_task_resolver,
    kwtypes,
    task,
)
from plugins.tasks.metadata import runtime_version
from tests.tasks import sample


def var(simple: int, description: str = "") -> interface_pb2.Variable:
    return interface_pb2.Variable(
        type=types_pb2.LiteralType(simple=simple), description=description
    )


def test_a_function_task_template_is_complete() -> None:
    template = sample.add.to_task_template(
        SerializationSettings(project="p", domain="d", version="v1")
    )
    assert template.id.resource_type == 1  # TASK
    assert (template.id.project, template.id.domain, template.id.version) == ("p", "d", "v1")
    assert template.id.name == "tests.tasks.sample.add"
    assert template.type == "python-task"
    expected_interface = interface_pb2.TypedInterface()
    expected_interface.inputs.variables["a"].CopyFrom(var(types_pb2.INTEGER))
    expected_interface.inputs.variables["b"].CopyFrom(var(types_pb2.INTEGER))
    expected_interface.outputs.variables["o0"].CopyFrom(var(types_pb2.INTEGER))
    assert template.interface == expected_interface
    assert template.metadata == TaskMetadata().to_taskmetadata_model()
    assert template.metadata.runtime.version == runtime_version()
    assert struct_to_dict(template.custom) == {
        "resolver": "plugins.tasks.resolver.default_task_resolver",
        "loader_args": [
            "task-module",
            "tests.tasks.sample",
            "task-name",
            "add",
            "task-file",
            sample.__file__,
        ],
        "environment": {},
    }
    assert not template.HasField("container")


def test_metadata_and_named_outputs_reach_the_template() -> None:
    template = sample.summarize.to_task_template()
    meta = template.metadata
    assert meta.discoverable and meta.cache_serializable
    assert meta.discovery_version == "1.0"
    assert list(meta.cache_ignore_input_vars) == ["note"]
    assert meta.retries.retries == 3
    assert meta.timeout.ToTimedelta() == timedelta(minutes=5)
    assert meta.interruptible
    outputs = template.interface.outputs.variables
    assert dict(outputs) == {"total": var(types_pb2.INTEGER), "mean": var(types_pb2.FLOAT)}
    values = template.interface.inputs.variables["values"].type
    assert values.collection_type.simple == types_pb2.FLOAT


def test_plugin_task_classes_produce_their_task_type() -> None:
    echo = EchoTask("greet", inputs=kwtypes(text=str, n=int))
    template = echo.to_task_template()
    assert template.type == "echo"
    assert set(template.interface.inputs.variables) == {"text", "n"}
    assert template.interface.outputs == template.interface.inputs
    assert echo(text="hi", n=2) == ("hi", 2)
    sleep = SleepTask("nap", metadata=TaskMetadata(retries=1))
    st = sleep.to_task_template()
    assert st.type == "core-sleep"
    assert st.interface.inputs.variables["duration"].type.simple == types_pb2.DURATION
    assert st.metadata.retries.retries == 1
    assert sleep(duration=timedelta(0)) is None


class QueryTask(PythonTask[dict[str, str]]):
    """What a plugin author writes: a task class with custom, config and a SQL statement."""

    def __init__(self, name: str, query: str, **kwargs: Any) -> None:
        super().__init__(
            task_type="query",
            name=name,
            task_config={"warehouse": "wh1"},
            interface=Interface(inputs=kwtypes(limit=int), outputs=kwtypes(rows=int)),
            **kwargs,
        )
        self.query = query

    def get_custom(self, settings: SerializationSettings) -> dict[str, Any]:
        return {"query": self.query, **(self.task_config or {})}

    def get_config(self, settings: SerializationSettings) -> dict[str, str]:
        return {"dialect": "ansi"}

    def get_sql(self, settings: SerializationSettings) -> tasks_pb2.Sql:
        return tasks_pb2.Sql(statement=self.query, dialect=tasks_pb2.Sql.ANSI)


def test_a_plugin_authors_hooks_fill_the_template() -> None:
    t = QueryTask("q", "select 1 limit {{ .inputs.limit }}", task_type_version=2)
    template = t.to_task_template()
    custom = struct_pb2.Struct()
    custom.update({"query": "select 1 limit {{ .inputs.limit }}", "warehouse": "wh1"})
    assert template.custom == custom
    assert dict(template.config) == {"dialect": "ansi"}
    assert template.sql.statement.startswith("select 1")
    assert template.task_type_version == 2
    assert t.get_input_types() == {"limit": int}
    with pytest.raises(NotImplementedError, match="runs in its plugin on the backend"):
        t(limit=1)


def test_a_plain_task_is_closest_to_the_idl() -> None:
    iface = interface_pb2.TypedInterface()
    iface.inputs.variables["x"].CopyFrom(var(types_pb2.STRING))
    t = Task(task_type="echo", name="raw", interface=iface, metadata=TaskMetadata(retries=2))
    template = t.to_task_template()
    assert template.interface == iface
    assert template.metadata.retries.retries == 2
    with pytest.raises(TypeError, match="unexpected arguments: bogus"):
        Task(task_type="echo", name="raw", bogus=1)


def test_local_calls_convert_like_a_worker() -> None:
    assert sample.add(1) == 3
    assert sample.add(a=1, b=5) == 6
    stats = sample.summarize(values=[1, 2, 3])  # ints become floats, as remotely
    assert stats == sample.Stats(total=6, mean=2.0)
    assert isinstance(stats, sample.Stats)
    label, point = sample.pair(sample.Point(x=1, y=1.5, label="a"), sample.Color.GREEN)
    assert label == "green:a"
    assert point == sample.Point(x=2, y=3.0, label="a")
    assert sample.nothing(flag=True) is None
    assert sample.nothing(flag=False) is None
    assert sample.whoami() == "local:0:"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: sample.add(a="x"), "input 'a'"),
        (lambda: sample.add(), "missing inputs: a"),  # noqa: PLW0108 - like its neighbours
        (lambda: sample.add(1, 2, 3), "takes 2 inputs"),
        (lambda: sample.add(a=1, c=2), "has no input 'c'"),
        (lambda: sample.add(1, a=1), "input 'a' given twice"),
    ],
)
def test_bad_local_inputs_name_the_input(call, message) -> None:
    with pytest.raises(InputConversionError, match=message):
        call()


def test_user_exceptions_propagate_locally() -> None:
    with pytest.raises(ValueError, match="boom"):
        sample.explode(message="boom")


def test_a_deprecated_task_warns_on_use() -> None:
    with pytest.warns(FutureWarning, match="deprecated: use add instead"):
        assert sample.old_add(a=1) == 2


def test_a_file_round_trips_locally() -> None:
    f = sample.write_file(text="hello")
    assert sample.read_file(f=f) == "hello"
    with f.open("rb") as fh:
        assert fh.read() == b"hello"


def test_unsupported_types_fail_at_decoration_naming_the_parameter() -> None:
    with pytest.raises(TypeError, match="input 'bad' has unsupported type"):

        @task
        def f(ok: int, bad: set[int]) -> int:
            return ok

    with pytest.raises(TypeError, match="output 'o0' has unsupported type"):

        @task
        def g(ok: int) -> bytes:
            return b""

    with pytest.raises(TypeError, match="input 'x' needs a type annotation"):

        @task
        def h(x) -> int:  # type: ignore[no-untyped-def]
            return 1


def test_metadata_errors_surface_at_decoration() -> None:
    with pytest.raises(ValueError, match="cache_version"):

        @task(cache=True)
        def f(x: int) -> int:
            return x


def test_the_resolver_loads_the_same_task_back() -> None:
    args = default_task_resolver.loader_args(SerializationSettings(), sample.add)
    assert default_task_resolver.load_task(args) is sample.add


def test_the_resolver_falls_back_to_the_source_file(tmp_path, monkeypatch) -> None:
    source = tmp_path / "standalone_tasks_mod.py"
    source.write_text(
        textwrap.dedent(
            """
            from plugins.tasks import task

            @task
            def triple(x: int) -> int:
                return 3 * x
            """
        )
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import standalone_tasks_mod  # type: ignore[import-not-found]

        args = default_task_resolver.loader_args(
            SerializationSettings(), standalone_tasks_mod.triple
        )
    finally:
        sys.path.remove(str(tmp_path))
        del sys.modules["standalone_tasks_mod"]
    # The module no longer imports by name; the resolver loads its file, once its folder
    # is one a worker may load task files from.
    with pytest.raises(TaskLoadError, match="outside the folders"):
        default_task_resolver.load_task(args)
    monkeypatch.setenv("FLYTE_CELERY_TASK_PATHS", str(tmp_path))
    loaded = default_task_resolver.load_task(args)
    try:
        assert isinstance(loaded, PythonFunctionTask)
        assert loaded(x=2) == 6
    finally:
        sys.modules.pop("standalone_tasks_mod", None)


def test_nested_tasks_run_locally_but_cannot_be_serialized() -> None:
    @task
    def inner(x: int) -> int:
        return x + 1

    assert inner(x=1) == 2
    with pytest.raises(TaskLoadError, match="defined inside a function"):
        inner.to_task_template()


def test_a_task_defined_in_python_c_is_refused_before_it_is_submitted() -> None:
    # No file a worker could load: refused at once, not accepted and failed in the worker.
    code = (
        "from plugins.tasks import task\n"
        "@task\n"
        "def f(x: int) -> int:\n"
        "    return x\n"
        "f.to_task_template()\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)}, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "defined in code with no file (python -c, a REPL or a notebook cell)" in done.stderr


@pytest.mark.parametrize(
    ("loader_args", "message"),
    [
        (["task-module"], "malformed loader_args"),
        (["task-module", "no_such_module_xyz", "task-name", "f"], "cannot import task module"),
        (["task-module", "tests.tasks.sample", "task-name", "missing"], "has no task 'missing'"),
        (["task-module", "tests.tasks.sample", "task-name", "Point"], "not a task"),
    ],
)
def test_the_resolver_explains_what_it_cannot_load(loader_args, message) -> None:
    with pytest.raises(TaskLoadError, match=message):
        default_task_resolver.load_task(loader_args)
