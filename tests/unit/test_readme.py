"""The README's Python examples run as written.

Examples that need a running stack are run by tests/integration/test_readme_stack.py.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


STACK_MARK = "# Needs a running stack"


def python_blocks(*, needs_stack: bool = False) -> list[str]:
    """The README's Python examples; those marked as needing a running stack, or the others."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return [b for b in blocks if b.startswith(STACK_MARK) == needs_stack]


def test_readme_has_examples() -> None:
    assert len(python_blocks()) >= 3


def test_readme_examples_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, redis_client: object
) -> None:
    # The blocks build on each other, as a reader would run them in one module; dataclasses
    # need that module in sys.modules.
    module = types.ModuleType("readme_examples")
    module.redis_client = redis_client  # type: ignore[attr-defined]  # the examples' client
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), module.__dict__)
    assert "unknown task type 'spark'" in capsys.readouterr().out


def test_the_grafana_dashboard_shows_only_metrics_the_readme_names() -> None:
    readme = README.read_text()
    section = readme[readme.index("### Metrics") :]
    section = section[: section.index("\n## ")]
    named = {n.removesuffix("_total") for n in re.findall(r"flyte_celery_\w+", section)}
    dashboard = json.loads((README.parent / "docs" / "grafana" / "flyte-celery.json").read_text())
    used = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"flyte_celery_\w+", target["expr"])
    }
    assert used and used <= named, used - named
    assert len(dashboard["panels"]) >= 10
