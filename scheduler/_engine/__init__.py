"""The scheduler's tick: launches, the cache gate, Gets, timeouts and reconciliation.

:class:`Engine` runs one tick at a time with the time injected; celery beat
drives it through :class:`scheduler._engine.beat.EngineScheduler`, and
:mod:`scheduler.testing` drives it inline.
"""

from __future__ import annotations

from scheduler._engine.cache_gate import CacheGate
from scheduler._engine.engine import Engine
from scheduler._engine.outbox import Outbox, Publisher

__all__ = ["CacheGate", "Engine", "Outbox", "Publisher"]
