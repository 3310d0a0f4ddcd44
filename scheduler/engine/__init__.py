"""The scheduler's tick: launches, the cache gate, Gets, timeouts and reconciliation.

:class:`Engine` runs one tick at a time with the time injected; celery beat
drives it through :class:`scheduler.engine.beat.EngineScheduler`, and
:mod:`scheduler.testing` drives it inline.
"""

from __future__ import annotations

from scheduler.engine.cache_gate import CacheGate
from scheduler.engine.engine import Engine
from scheduler.engine.outbox import Outbox, Publisher

__all__ = ["CacheGate", "Engine", "Outbox", "Publisher"]
