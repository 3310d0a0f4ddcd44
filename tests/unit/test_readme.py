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

from tests.readme_blocks import DOCS, GUIDES, README, python_blocks


def test_every_page_with_examples_is_run() -> None:
    # A guide moved out of the README keeps its examples tested.
    pages = [README, *sorted(DOCS.glob("*.md"))]
    with_examples = {p for p in pages if "```python" in p.read_text()}
    assert with_examples <= set(GUIDES), with_examples - set(GUIDES)


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_links_between_the_readme_and_its_guides_resolve() -> None:
    for page in [README, *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s), mailto: not ours to check
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            assert linked.exists(), f"{page.name} links to {target}, which does not exist"
            if anchor and linked.suffix == ".md":
                assert anchor in _anchors(linked), f"{page.name} links to {target}: no such heading"


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


def test_the_grafana_dashboard_shows_only_metrics_the_docs_name() -> None:
    documented = (DOCS / "metrics.md").read_text()
    named = {n.removesuffix("_total") for n in re.findall(r"flyte_celery_\w+", documented)}
    dashboard = json.loads((README.parent / "docs" / "grafana" / "flyte-celery.json").read_text())
    used = {
        re.sub(r"_(total|bucket|sum|count)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"flyte_celery_\w+", target["expr"])
    }
    assert used and used <= named, used - named
    assert len(dashboard["panels"]) >= 10
