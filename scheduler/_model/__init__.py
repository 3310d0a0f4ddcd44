"""Pure state, no I/O: the execution record, the state machine, steps and claims.

- :mod:`.record`: :class:`ExecutionRecord`, :class:`WebAPIState`, :class:`Event`;
- :mod:`.steps`: :class:`Step`, :class:`Claim`, :class:`TeardownKind`,
  :class:`LimiterKind`;
- :mod:`.machine`: Flyte's web-API state machine as functions from a record and
  ``now`` to the next record;
- :mod:`.bookkeeping`: the scheduler's other changes of a record (pending, claims published
  again, the plugin chosen, quota waiters woken, the result cache's outcomes); no record
  field changes anywhere else;
- :mod:`.failures`: the one mapping from an exception to a failure PhaseInfo;
- :mod:`.listing`: :class:`ExecutionFilter` and :class:`Cursor`, for pages of the
  newest-first listing;
- :mod:`.cache_key`: the result cache's key and :class:`CacheStatus`.

Everything here is deterministic given its arguments, so the scheduler and the
workers share it and its tests need neither Redis nor a clock.
"""

from __future__ import annotations

from scheduler._model.access import ANY, Caller, Grant, Role, parse_grants
from scheduler._model.cache_key import CacheKey, CacheStatus, cache_key
from scheduler._model.evolve import evolve
from scheduler._model.failures import FailureSite, describe, failure_info
from scheduler._model.ids import execution_id, is_utf8
from scheduler._model.listing import Cursor, ExecutionFilter
from scheduler._model.record import Event, ExecutionRecord, WebAPIPhase, WebAPIState
from scheduler._model.redact import redact_event, redact_record
from scheduler._model.steps import Claim, LimiterKind, Step, TeardownKind

__all__ = [
    "ANY",
    "CacheKey",
    "CacheStatus",
    "Caller",
    "Claim",
    "Cursor",
    "Event",
    "ExecutionFilter",
    "ExecutionRecord",
    "FailureSite",
    "Grant",
    "LimiterKind",
    "Role",
    "Step",
    "TeardownKind",
    "WebAPIPhase",
    "WebAPIState",
    "cache_key",
    "describe",
    "evolve",
    "execution_id",
    "failure_info",
    "is_utf8",
    "parse_grants",
    "redact_event",
    "redact_record",
]
