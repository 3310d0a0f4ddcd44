"""Packages import their public names when first used, and the task launcher stays small."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import warnings

import pytest

LAZY_PACKAGES = ["plugins.builtin", "plugins.core", "plugins.io"]


@pytest.mark.parametrize("package_name", LAZY_PACKAGES)
def test_every_lazy_name_is_the_object_its_submodule_defines(package_name: str) -> None:
    package = importlib.import_module(package_name)
    for module_name, names in package._EXPORTS.items():
        module = importlib.import_module(module_name)
        for name in names:
            assert getattr(package, name) is getattr(module, name), f"{package_name}.{name}"
    # Each module's names listed once, and nothing listed that is not exported.
    listed = [name for names in package._EXPORTS.values() for name in names]
    assert sorted(listed) == sorted(package.__all__)


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    package = importlib.import_module("plugins.core")
    with pytest.raises(AttributeError, match=r"'plugins\.core' has no attribute 'Nope'"):
        package.Nope  # noqa: B018 - the access is the test
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hasattr(package, "Nope")


def test_the_version_is_looked_up_when_asked_for() -> None:
    import plugins

    assert isinstance(plugins.__version__, str) and plugins.__version__
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        plugins.nope  # type: ignore[attr-defined]  # noqa: B018


# What an isolated run's process is forked from must not carry what it never uses: each
# fork maps, copies and unmaps the launcher's memory (docs/scaling.md, "Python tasks").
HEAVY = ["pydantic", "fsspec", "asyncio", "importlib.metadata", "email", "ssl", "celery", "redis"]


def test_the_task_launcher_imports_neither_pydantic_nor_fsspec_nor_asyncio() -> None:
    code = (
        "import json, sys; import plugins.builtin.launcher, plugins.builtin.forked; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout) == [], done.stdout
