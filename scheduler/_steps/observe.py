"""Applying what a Get (or a core plugin's round) observed: a phase, or an error.

A non-terminal phase is recorded and the next Get planned after the resync
interval (at once after a signal); a batch of them is written in one round trip.
A terminal phase completes the attempt. An error counts against the plugin's
``maxSystemFailures``; past it the attempt fails with the last error.

Each write-back is tried again until Redis takes it (see :mod:`scheduler._steps.durable`),
like a Create's: an observation dropped because Redis stalled is a Get sent again, and
for a job that ended, its outputs committed again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from plugins.core import PhaseInfo
from plugins.webapi import CachingConfig
from scheduler._model import Claim, Event, ExecutionRecord, machine
from scheduler._runtime import AttemptContext, LoadedPlugin, Runtime
from scheduler._steps.durable import durably
from scheduler._steps.writeback import Apply, WriteBack

__all__ = ["Observation", "apply_observation", "apply_observations", "failed_get"]


@dataclass(frozen=True)
class Observation:
    """What one Get saw: the Status PhaseInfo, or the error that prevented it.

    Attributes:
        info: The PhaseInfo Status returned, if the calls succeeded.
        error: ``Type: message`` of the failure otherwise.
    """

    info: PhaseInfo | None = None
    error: str = ""


def apply_observation(
    wb: WriteBack,
    loaded: LoadedPlugin,
    record: ExecutionRecord,
    observation: Observation,
    actx: AttemptContext,
) -> None:
    """Write what a Get observed back to the record it was claimed on."""
    expected = record.claim
    if expected is None:
        return  # only a claimed record is observed; without a claim there is nothing to write
    caching = loaded.config.caching
    now = wb.runtime.clock()
    info = observation.info
    if info is not None and info.phase.is_terminal():
        # The job ended: its outputs are committed once, then the end is written back
        # until Redis takes it (a Get dropped here would be sent, and seen, again).
        what = f"{record.id} Get"
        done = durably(partial(wb.completing, record, info, actx), what)
        durably(partial(wb.update, record.id, expected, done, record), what)
        return
    if info is not None:
        observing = _observing(info, now, caching)
        _write_back(wb, [(record, expected, observing)], f"{record.id} Get")
        return
    message = observation.error

    def failed(r: ExecutionRecord) -> tuple[ExecutionRecord, list[Event]]:
        new, events, _ = failed_get(wb.runtime, r, now, message, caching)
        return new, events

    _write_back(wb, [(record, expected, failed)], f"{record.id} Get")


def failed_get(
    runtime: Runtime, record: ExecutionRecord, now: datetime, message: str, caching: CachingConfig
) -> tuple[ExecutionRecord, list[Event], bool]:
    """A failed Get counted; past the plugin's budget, the attempt ends with it.

    Returns:
        The next record, the events of its change, and whether the attempt ended.
    """
    outcome = machine.get_failed(record, now, message, caching)
    if isinstance(outcome, PhaseInfo):
        return *runtime.attempts.end(record, now, outcome), True
    return outcome, [], False


def apply_observations(
    wb: WriteBack,
    loaded: LoadedPlugin,
    observed: list[tuple[ExecutionRecord, Observation, AttemptContext]],
) -> None:
    """Write a batch of Get observations back.

    Non-terminal phases (the common case: still RUNNING) are written together with
    :meth:`WriteBack.update_many`, one round trip of compare-and-sets from the records as
    they were read; so are the ends of jobs, once each one's outputs are committed (until
    Redis takes them, as :func:`apply_observation` writes one). An error goes through
    :func:`apply_observation`.
    """
    now = wb.runtime.clock()
    caching = loaded.config.caching
    batch: list[tuple[ExecutionRecord, Claim, Apply]] = []
    ends: list[tuple[ExecutionRecord, Claim, Apply]] = []
    rest: list[tuple[ExecutionRecord, Observation, AttemptContext]] = []
    for record, observation, actx in observed:
        info = observation.info
        if record.claim is None or info is None:
            rest.append((record, observation, actx))
        elif info.phase.is_terminal():
            done = durably(partial(wb.completing, record, info, actx), f"{record.id} Get")
            ends.append((record, record.claim, done))
        else:
            batch.append((record, record.claim, _observing(info, now, caching)))
    _write_back(wb, batch, f"{len(batch)} Gets")
    if ends:
        durably(partial(wb.update_many, ends), f"{len(ends)} Gets that saw their jobs end")
    for record, observation, actx in rest:
        apply_observation(wb, loaded, record, observation, actx)


def _write_back(
    wb: WriteBack, items: list[tuple[ExecutionRecord, Claim, Apply]], what: str
) -> None:
    """Write non-terminal observations (or failed Gets) back until Redis takes them.

    A try that failed may still have been written, its reply lost; by the time it is
    tried again the scheduler may have claimed the next Get (the same claim, the same
    attempt), and applying the old observation again would clear that claim (or count a
    failure twice). So a retry writes only while the record is as the Get read it; else
    the observation is dropped, and the next Get sees for itself.
    """
    tries = itertools.count()

    def write() -> None:
        retry = next(tries) > 0
        wb.update_many([(r, c, _unchanged(r, a) if retry else a) for r, c, a in items])

    durably(write, what)


def _unchanged(read: ExecutionRecord, apply: Apply) -> Apply:
    """``apply``, but only to the record at the version it was read at."""
    return lambda current: apply(current) if current.version == read.version else None


def _observing(info: PhaseInfo, now: datetime, caching: CachingConfig) -> Apply:
    """The change a non-terminal observation makes: record it, plan the next Get."""
    return lambda record: (machine.observed(record, now, info, caching), [])
