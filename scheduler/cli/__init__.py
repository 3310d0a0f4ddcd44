"""Operating flyte-celery: the ``flyte-celery`` command, the standalone stack and the demo.

- :mod:`.commands`: the command line (``python -m scheduler.cli`` runs it too);
- :mod:`.standalone`: Redis, the scheduler, a worker and Flower on one machine;
- :mod:`.demo`: the demo's HTTP job service, its plugin and its workload.
"""

from __future__ import annotations

from scheduler.cli.commands import main, parse_input, table

__all__ = ["main", "parse_input", "table"]
