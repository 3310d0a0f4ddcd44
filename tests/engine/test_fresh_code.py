"""Code changes are seen: a task's new module or a new code tarball never runs stale code.

Python trusts a ``.pyc`` whose header matches its source's modification time, in whole
seconds, and size. Each test makes that trap real (and shows a plain interpreter falls
into it) before it checks that a task process does not, however it is started.
"""

from __future__ import annotations

import importlib
import importlib.util
import io
import os
import py_compile
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from flyteidl.core import tasks_pb2

from plugins.core import Phase
from plugins.tasks.resolver import function_module
from tests.engine.conftest import EngineHarness as Harness
from tests.flytekit.serialize import literals, template


@pytest.fixture(params=["fork", "spawn"])
def launcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FLYTE_CELERY_TASK_LAUNCHER", request.param)
    return str(request.param)


def _plain_python(folder: Path, expression: str, module: str) -> str:
    """What a plain interpreter in ``folder`` prints for ``expression`` after importing."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}; print({expression})"],
        cwd=folder, capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(folder)},
    )  # fmt: skip
    return done.stdout.strip()


VERSION_ONE = "from plugins.tasks import task\n\n\n@task\ndef version() -> int:\n    return 111\n"
VERSION_TWO = VERSION_ONE.replace("111", "222")


@pytest.mark.parametrize("how", ["by-name", "by-file"])
def test_a_module_edited_in_the_same_second_runs_its_new_code(
    harness_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, launcher: str, how: str
) -> None:
    folder = tmp_path / "code"
    folder.mkdir()
    name = f"edited_{how.replace('-', '_')}_q"
    path = folder / f"{name}.py"
    path.write_text(VERSION_ONE)
    monkeypatch.setenv("FLYTE_CELERY_TASK_PATHS", str(folder))
    if how == "by-name":
        monkeypatch.syspath_prepend(str(folder))  # the worker's path: tasks import it by name
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # as a test imports a task's module
    spec.loader.exec_module(module)
    assert function_module(module.version.task_function) == (name, str(path))
    h: Harness = harness_factory()

    def run() -> Any:
        ex = h.client.submit(module.version, {})
        h.drain()
        return ex.result(timeout=1)

    assert run() == 111
    # An edit of the same size within the same second, next to the old bytecode.
    py_compile.compile(str(path), doraise=True)
    before = path.stat()
    path.write_text(VERSION_TWO)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert _plain_python(folder, f"{name}.version.task_function()", name) == "111"  # the trap
    assert run() == 222


STALE_MODULE = """
from flytekit import task


@task
def shout(word: str) -> str:
    return word.upper() + "1"
"""


def _tarball(path: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """A code tarball as fast registration makes one: the project's files at its top."""
    with tarfile.open(path, "w:gz") as tar:
        for name, (data, mtime) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), mtime
            tar.addfile(info, io.BytesIO(data))


def test_a_new_code_tarball_runs_its_new_code_even_beside_stale_bytecode(
    harness_factory, tmp_path: Path, launcher: str
) -> None:
    from flytekit.configuration import FastSerializationSettings

    name = "fastmod_stale_q"
    one, two = STALE_MODULE.encode(), STALE_MODULE.replace('"1"', '"2"').encode()
    mtime = 1_700_000_000
    # Version one's bytecode, as a build folder keeps it after a same-second edit.
    old = tmp_path / "old" / f"{name}.py"
    old.parent.mkdir()
    old.write_bytes(one)
    os.utime(old, (mtime, mtime))
    stale = tmp_path / "stale.pyc"
    py_compile.compile(str(old), cfile=str(stale), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)  # fmt: skip
    cached = importlib.util.cache_from_source(f"{name}.py")
    h: Harness = harness_factory(storage="memory://fast-stale/storage")

    def registered(version: str, files: dict[str, tuple[bytes, int]]) -> tasks_pb2.TaskTemplate:
        archive, location = tmp_path / f"{version}.tar.gz", f"memory://fast-stale/{version}.tar.gz"
        _tarball(archive, files)
        h.runtime.data_store.write_raw(location, archive.read_bytes())
        fast = FastSerializationSettings(
            enabled=True, destination_dir=".", distribution_location=location
        )
        return template(module.shout, fast=fast)

    # Serialized as pyflyte register does, from the source; then only the tarballs hold it.
    sys.path.insert(0, str(old.parent))
    try:
        module = importlib.import_module(name)
        first = registered("v1", {f"{name}.py": (one, mtime)})
        second = registered("v2", {f"{name}.py": (two, mtime), cached: (stale.read_bytes(), mtime)})
    finally:
        sys.path.remove(str(old.parent))
        sys.modules.pop(name, None)
        shutil.rmtree(old.parent)
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(tmp_path / "v2.tar.gz") as tar:
        tar.extractall(unpacked, filter="tar")
    assert _plain_python(unpacked, f"{name}.shout.task_function('hey')", name) == "HEY1"

    for t, expected in ((first, "HEY1"), (second, "HEY2")):
        ex = h.client.submit(t, literals(word="hey"))
        h.drain()
        assert ex.refresh().phase is Phase.SUCCESS, ex.error()
        assert ex.outputs().literals["o0"].scalar.primitive.string_value == expected
