"""A task module that submits as it is imported, without a ``__main__`` guard.

A common mistake: every worker that imports the module to run ``inc`` would submit again.
"""

from __future__ import annotations

import os

from plugins.tasks import task
from scheduler import Client


@task
def inc(x: int) -> int:
    """Add one."""
    return x + 1


# A test imports this module with the variable set, to take ``inc`` without submitting. A
# worker's task process starts from a clean environment: there the module runs as written.
if os.environ.get("UNGUARDED_IMPORT_ONLY") != "1":
    Client().submit(inc, {"x": 1})
