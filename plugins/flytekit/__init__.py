"""flytekit's connectors as flyte-celery plugins (needs the ``flyte-celery[flytekit]`` extra).

- :mod:`plugins.flytekit.connectors`: every connector registered in the worker's
  flytekit (``sensor`` and ``webhook`` out of the box, more through
  ``FLYTE_CELERY_CONNECTOR_MODULES``), served in process;
- :mod:`plugins.flytekit.status`: a connector's ``Resource`` as a PhaseInfo, the way
  Propeller maps it;
- :mod:`plugins.flytekit.loop`: the one event loop per process their async calls run on.

Nothing here imports flytekit at import time: the core runs without it.
"""

from __future__ import annotations

__all__: list[str] = []
