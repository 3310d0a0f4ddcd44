"""The layout shows the path of an execution: imports only ever point down the tree.

``worker`` → ``scheduler`` → ``plugins``; inside ``scheduler`` each layer imports
only the layers below it (and its own package's modules), never one above and
never a sibling of the same rank; no import cycle anywhere; modules stay small.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The scheduler's layers, bottom first. A module may import from a lower layer, or from
# modules of its own subpackage; engine and steps share a rank and must not import each
# other (they meet only in the runtime and the model below them).
LAYERS: dict[str, int] = {
    "scheduler.settings": 0,
    "scheduler.metrics": 0,
    "scheduler.clock": 0,
    "scheduler._model": 1,
    "scheduler._backend": 2,
    "scheduler._runtime": 3,
    "scheduler._engine": 4,
    "scheduler._steps": 4,
    "scheduler._client": 5,
    "scheduler.testing": 6,
    "scheduler.console": 6,
    "scheduler.cli": 7,
    "scheduler": 8,
}
MAX_LINES = 420  # "about 400": a module that grows past it is due for a split


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _runtime_imports(path: Path) -> set[str]:
    """Absolute imports that run (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from scheduler._model import machine`` imports the submodule too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _layer(module: str) -> str:
    best = "scheduler"
    for layer in LAYERS:
        if (module == layer or module.startswith(layer + ".")) and len(layer) > len(best):
            best = layer
    return best


SOURCES = sorted(
    p for pkg in ("scheduler", "worker", "plugins") for p in (ROOT / pkg).rglob("*.py")
)
TESTS = sorted((ROOT / "tests").rglob("*.py"))
MODULES = {_module_name(p): p for p in SOURCES}


def _edges() -> dict[str, set[str]]:
    return {
        name: {m for m in _runtime_imports(path) if m in MODULES and m != name}
        for name, path in MODULES.items()
    }


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.startswith("scheduler.") or m == "scheduler"]
)
def test_scheduler_imports_only_point_down(module: str) -> None:
    own = _layer(module)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for target in _edges()[module]:
        assert not target.startswith("worker"), f"{module} imports {target}: worker is above"
        if not target.startswith("scheduler"):
            continue
        other = _layer(target)
        if other == own:
            # Within a subpackage: a module may use its siblings, never its own package's
            # __init__ (the package's surface, which sits above its modules).
            assert target != package or module == package, (
                f"{module} imports its own package {target}: import the module instead"
            )
            continue
        assert LAYERS[other] < LAYERS[own], (
            f"{module} ({own}, rank {LAYERS[own]}) imports {target} ({other}, rank "
            f"{LAYERS[other]}): imports must point down the tree"
        )


def test_top_level_packages_import_one_way() -> None:
    for module, targets in _edges().items():
        top = module.partition(".")[0]
        for target in targets:
            upward = {"plugins": ("scheduler", "worker"), "scheduler": ("worker",)}
            assert not target.startswith(upward.get(top, ())), f"{module} imports {target}"


def test_no_import_cycles() -> None:
    edges = _edges()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_is_for(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc, f"{path.relative_to(ROOT)} has no module docstring"


def test_no_reference_points_outside_the_repository() -> None:
    # Documents cited in code must be in the repository; these were not.
    outside_docs = ("celery-reliability" + ".md", "design" + " card", "\u00a7")
    for path in SOURCES + TESTS:
        text = path.read_text()
        for outside in outside_docs:
            assert outside not in text, f"{path.relative_to(ROOT)} cites {outside!r}"


def test_only_the_model_changes_an_execution_records_fields() -> None:
    """Every change of a record is a named function of scheduler._model (machine, bookkeeping).

    A ``replace``/``evolve`` call elsewhere that sets a field of ExecutionRecord is what the
    model's functions are for; other dataclasses (a step's outcome, an event) may be copied.
    """
    from dataclasses import fields

    from scheduler._model import ExecutionRecord

    # The store owns the compare-and-set version and whether the counts include the record.
    record_fields = {f.name for f in fields(ExecutionRecord)} - {"version", "counted"}
    offenders = []
    for package in ("scheduler", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.is_relative_to(ROOT / "scheduler" / "_model"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name not in ("replace", "evolve"):
                    continue
                changed = {k.arg for k in node.keywords if k.arg} & record_fields
                if changed:
                    where = path.relative_to(ROOT)
                    offenders.append(f"{where}:{node.lineno} sets {', '.join(sorted(changed))}")
    assert offenders == [], offenders


def test_tests_take_shared_helpers_from_helper_modules_only() -> None:
    """A test module imports no other test module: what two tiers share lives in a helper."""
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith("tests.") and module.split(".")[-1].startswith("test_"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert offenders == [], offenders


PRIVATE_LAYERS = [layer for layer in LAYERS if layer.rpartition(".")[2].startswith("_")]


def test_other_layers_use_a_private_layers_package_only() -> None:
    """A private layer's ``__init__`` is its boundary: what the layers above may use.

    Code outside ``scheduler._backend`` writes ``from scheduler._backend import X``, never
    ``from scheduler._backend.store import X``, so a layer's modules can move without
    touching its users. Tests may reach inside (they test the modules).
    """
    offenders = []
    for path in SOURCES:
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            for layer in PRIVATE_LAYERS:
                inside = module == layer or module.startswith(layer + ".")
                if node.module.startswith(layer + ".") and not inside:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
    assert PRIVATE_LAYERS and offenders == [], offenders


CURATED = ("plugins.core", "plugins.io", "plugins.webapi", "plugins.tasks", "plugins.builtin")


@pytest.mark.parametrize("package", CURATED)
def test_the_control_plane_takes_a_curated_name_from_its_package(package: str) -> None:
    """``from plugins.io import X``, not ``from plugins.io.readers import X``, for what
    ``plugins.io`` exports: the curated ``__init__`` is the surface, its modules may move."""
    import importlib

    exported = set(importlib.import_module(package).__all__)
    offenders = []
    for path in SOURCES:
        if path.is_relative_to(ROOT / "plugins"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
                names = sorted(a.name for a in node.names if a.name in exported)
                if names:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {names}")
    assert offenders == [], offenders


def test_processes_build_one_runtime_through_process_runtime() -> None:
    """A worker or beat process wires itself once: only ``process_runtime`` builds a Runtime
    there (a worker built up to four, each loading the settings again)."""
    offenders = []
    for path in SOURCES:
        module = _module_name(path)
        if not module.startswith(("worker", "scheduler._engine", "scheduler._steps")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Runtime":
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], offenders
