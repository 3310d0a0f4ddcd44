"""The README's examples that need a running stack, run against real processes."""

from __future__ import annotations

import sys
import types
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler._backend import ApiTokens
from scheduler._model import parse_grants
from tests.integration.console_process import console_process
from tests.integration.stack import Stack
from tests.readme_blocks import README, python_blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def console(stack: Stack) -> Iterator[str]:
    """The console's process for the stack (it serves the HTTP API): its address."""
    with console_process(stack.env) as url:
        yield url


def test_readme_stack_examples_run(
    stack: Stack, console: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = python_blocks(needs_stack=True)
    assert blocks, "the README should show the Python API"
    for key, value in stack.env.items():
        if key.startswith("FLYTE_CELERY_"):
            monkeypatch.setenv(key, value)  # what the standalone's export lines do
    # What the HTTP API's example asks for: the console's address and a token.
    client = stack.client()
    tokens = ApiTokens(client.runtime.redis, client.runtime.keys)
    token, _ = tokens.create(
        f"readme-{uuid.uuid4().hex[:6]}",
        parse_grants(["submitter@default"]),
        client.runtime.clock(),
    )
    monkeypatch.setenv("FLYTE_CELERY_SERVER_URL", console)
    monkeypatch.setenv("FLYTE_CELERY_TOKEN", token)
    module = types.ModuleType("readme_stack_examples")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for block in blocks:
        exec(compile(block, str(README), "exec"), module.__dict__)
