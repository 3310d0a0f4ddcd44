"""The end of an attempt: its quota token released, then a retry or the execution's end.

Four places end an attempt (a failed Create or Get, a write-back of a terminal phase, a
teardown); each calls :meth:`Attempts.end`, so the release always comes first.
"""

from __future__ import annotations

from datetime import datetime

from plugins.core import PhaseInfo
from scheduler._backend import ExecutionStore, TokenLedger
from scheduler._model import Event, ExecutionRecord, machine
from scheduler.clock import Clock
from scheduler.settings import RetryPolicy

__all__ = ["Attempts"]


class Attempts:
    """Ends attempts.

    Args:
        tokens: The quota tokens and their holders.
        store: The execution store.
        policy: The system-retry policy.
        clock: The process's clock.
    """

    def __init__(
        self, tokens: TokenLedger, store: ExecutionStore, policy: RetryPolicy, clock: Clock
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._policy = policy
        self._clock = clock

    def end(
        self, record: ExecutionRecord, now: datetime | None, info: PhaseInfo
    ) -> tuple[ExecutionRecord, list[Event]]:
        """End the attempt with ``info``: release its quota token, then retry or finish.

        The release is Flyte's finalize, and idempotent: a write that loses its race and is
        applied again releases nothing twice. The record that comes back is the next
        attempt's, or the execution's end, with the events of the change
        (:func:`~scheduler._model.machine.finish_attempt`). ``now`` ``None`` reads the clock
        once the token is released.
        """
        if record.token_namespace is not None:
            self._tokens.release(record.token_namespace, record.token)
        return machine.finish_attempt(record, now or self._clock(), info, self._policy)

    def write_end(
        self, record: ExecutionRecord, now: datetime, info: PhaseInfo
    ) -> ExecutionRecord | None:
        """:meth:`end` the attempt and write it (one compare-and-set from ``record``).

        Returns:
            The record written, or ``None`` if someone else wrote first.
        """
        new, events = self.end(record, now, info)
        return self._store.transition(record, new, events)
