"""Operating flyte-celery: the ``flyte-celery`` command, the standalone stack and the demo.

- :mod:`.app`: the command group and its one-line errors (``python -m scheduler.cli`` runs it);
- :mod:`.commands`: submit and inspect executions; :mod:`.serve`: run the processes;
- :mod:`.views`: tables and live progress (rich); :mod:`.connect`: reaching Redis;
- :mod:`.standalone`: Redis, the scheduler, a worker, Flower and metrics on one machine;
- :mod:`.demo`: the demo's HTTP job service, its plugin and its workload.
"""

from __future__ import annotations

from scheduler.cli.app import main
from scheduler.cli.inputs import parse_input
from scheduler.cli.views import table

__all__ = ["main", "parse_input", "table"]
