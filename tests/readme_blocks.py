"""The Python examples of the README and its guides, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DOCS", "GUIDES", "README", "STACK_MARK", "python_blocks"]

README = Path(__file__).resolve().parents[1] / "README.md"
DOCS = README.parent / "docs"
GUIDES = [README, DOCS / "plugins.md", DOCS / "redis.md"]
"""The pages whose Python examples run, in the order a reader meets them."""


STACK_MARK = "# Needs a running stack"


def python_blocks(*, needs_stack: bool = False) -> list[str]:
    """The examples of the README and the guides it links; those needing a stack, or the others."""
    blocks = [
        block
        for page in GUIDES
        for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)
    ]
    return [b for b in blocks if b.startswith(STACK_MARK) == needs_stack]
