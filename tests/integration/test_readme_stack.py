"""The README's examples that need a running stack, run against real processes."""

from __future__ import annotations

import sys
import types

import pytest

from tests.integration.stack import Stack
from tests.readme_blocks import README, python_blocks


def test_readme_stack_examples_run(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = python_blocks(needs_stack=True)
    assert blocks, "the README should show the Python API"
    for key, value in stack.env.items():
        if key.startswith("FLYTE_CELERY_"):
            monkeypatch.setenv(key, value)  # what the standalone's export lines do
    module = types.ModuleType("readme_stack_examples")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks:
        exec(compile(block, str(README), "exec"), module.__dict__)
