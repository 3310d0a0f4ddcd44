"""The execution store: one Redis record per execution, compare-and-set transitions, indexes.

A record comes to be in :meth:`ExecutionStore.create_many` (``lua/create.lua``), as a
plain submission. Redis is the truth and Celery messages are hints, so every later change
goes through :meth:`ExecutionStore.transition`, a compare-and-set on the record's version. A
stale or duplicate writer (a redelivered job, a second scheduler) gets ``None``
back and must re-read. In the same atomic step the store:

- appends an event when (attempt, phase, phase version) changed (plus any events the
  caller passes, such as the end of an attempt it replaced), and caps the log;
- moves the record between indexes derived from its fields, so the scheduler's
  work is O(what is due): ``pending`` (work to do now), ``due`` (next Get time),
  ``waiting:<namespace>`` (quota waiters, oldest first), ``timeouts`` (attempt
  deadlines) and ``claims`` (steps claimed by workers, for reconciliation).
  ``pending`` is ordered by when the work may start (``not_before``, else the last
  update), so a system-retry backoff needs no index of its own.

A write that only claims a step or plans the next Get (the common case, once per
poll) touches the record's hot fields alone, many records in one script call; the
record's compact layout is in :mod:`scheduler._backend.records`, key names are in
:mod:`scheduler._backend.keys`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from redis import Redis

from plugins.errors import ConfigError, ContentionError, ExecutionExistsError
from scheduler._backend.indexes import Indexes
from scheduler._backend.listing import Listing
from scheduler._backend.reads import read_events, read_records
from scheduler._backend.scripts import ScriptBatch, load_script
from scheduler._backend.shards import ShardMap, Totals, merge_pages
from scheduler._backend.writes import (
    Write,
    create_calls,
    is_light,
    plain,
    stored_as,
    touch_call,
    transition_call,
)
from scheduler._model import (
    Cursor,
    Event,
    ExecutionFilter,
    ExecutionRecord,
    evolve,
    redact_event,
    redact_record,
)

__all__ = [
    "CAS_ATTEMPTS",
    "DEFAULT_EVENT_LOG_CAP",
    "DEFAULT_RETENTION",
    "Change",
    "ExecutionStore",
    "Updated",
]

CAS_ATTEMPTS = 50  # lost compare-and-sets before ExecutionStore.update gives up
Change = Callable[
    [ExecutionRecord], "tuple[ExecutionRecord, Sequence[Event]] | ExecutionRecord | None"
]


@dataclass(frozen=True)
class Updated:
    """What :meth:`ExecutionStore.update` did to a record.

    Attributes:
        before: The record as read last.
        after: The record written, or ``before`` itself if the change left it.
    """

    before: ExecutionRecord
    after: ExecutionRecord

    @property
    def changed(self) -> bool:
        """Whether a new version was written."""
        return self.after is not self.before


DEFAULT_RETENTION = timedelta(days=7)
"""How long a finished execution's record and events are kept."""

DEFAULT_EVENT_LOG_CAP = 1000
"""The most events kept per execution; the oldest are dropped first."""


class ExecutionStore:
    """Execution records in Redis.

    Args:
        redis_client: A ``redis.Redis`` client.
        key_prefix: Prefix (and hash tag) of every key.
        retention: How long finished executions are kept.
        event_log_cap: The most events kept per execution.
        redact: Masks secrets in the free text of records and events before they are
            written (see :mod:`scheduler._runtime.redaction`).
        shards: How many shards the deployment's executions are split into: a record is
            read and written under its own shard's keys (:mod:`.shards`), whichever store
            object does it.
        shard: The shard whose indexes :attr:`indexes` queries (a scheduler's shard).

    Attributes:
        indexes: The index queries of :attr:`shard` (pending, due, claims, waiting,
            counts...): what the writes here keep in step with the records.
        totals: The counts of every shard, summed (the console, metrics and clients).
    """

    def __init__(
        self,
        redis_client: Redis,
        *,
        key_prefix: str = "flyte-celery",
        retention: timedelta = DEFAULT_RETENTION,
        event_log_cap: int = DEFAULT_EVENT_LOG_CAP,
        redact: Callable[[str], str] | None = None,
        shards: int = 1,
        shard: int = 0,
    ) -> None:
        if redis_client.get_connection_kwargs().get("decode_responses"):
            # Records are stored deflated: their bytes are not text.
            raise ConfigError("the execution store needs a Redis client without decode_responses")
        if retention < timedelta(seconds=1):
            raise ConfigError(f"retention must be at least 1s, got {retention}")
        if event_log_cap < 1:
            raise ConfigError(f"event_log_cap must be >= 1, got {event_log_cap}")
        self._redis = redis_client
        self._shards = ShardMap(key_prefix, shards)
        if not 0 <= shard < shards:
            raise ConfigError(f"shard {shard} is not one of the {shards} shards")
        self.shard = shard
        self._retention_s = int(retention.total_seconds())
        self._cap = event_log_cap
        self._redact = redact
        self._transition = load_script(redis_client, "transition")
        self._create = load_script(redis_client, "create")
        self._touch = load_script(redis_client, "touch")
        every = [
            Indexes(redis_client, keys, self._retention_s, self.get_many, self._shards.of)
            for keys in self._shards.keys
        ]
        self.indexes = every[shard]
        self.totals = Totals(every)
        self._listings = [
            Listing(redis_client, keys.index("all"), self.get_many) for keys in self._shards.keys
        ]

    # -- writes --------------------------------------------------------------------------------

    def create(self, record: ExecutionRecord) -> ExecutionRecord:
        """Store a new execution (version 1) and log its first event (:meth:`create_many`).

        Raises:
            ExecutionExistsError: The id is taken.
        """
        stored = self.create_many([record])[0]
        if stored is None:
            raise ExecutionExistsError(f"execution {record.id!r} already exists")
        return stored

    def transition(
        self,
        current: ExecutionRecord,
        new: ExecutionRecord,
        events: Sequence[Event] = (),
        *,
        job: str | None = None,
    ) -> ExecutionRecord | None:
        """Replace ``current`` by ``new`` if nobody changed it since ``current`` was read.

        ``events`` are logged before ``new``'s own event, e.g. the end of an attempt
        that ``new`` already replaced by the next one. ``job``, the Celery job whose
        result this is, is named on the events logged.

        Returns:
            ``new`` with its new version, or ``None`` when the stored version is no
            longer ``current.version`` (re-read and decide again).

        Raises:
            ValueError: ``new`` is another execution.
        """
        return self.transition_many([(current, new)], events=[events], job=job)[0]

    def update(
        self, execution_id: str, apply: Change, *, known: ExecutionRecord | None = None,
        job: str | None = None,
    ) -> Updated | None:  # fmt: skip
        """Read, change and compare-and-set one record, again after each lost write.

        ``apply`` gets the current record and returns ``(new, events to log first)``, the
        record to leave it, or ``None`` to give up. ``known`` (a record just read) is tried
        first; ``job`` names the Celery job on the events.

        Returns:
            The record read last and the one written (the same record if ``apply`` left
            it), or ``None`` (gone, or given up).

        Raises:
            ContentionError: :data:`CAS_ATTEMPTS` writes in a row lost to other writers.
        """
        for _ in range(CAS_ATTEMPTS):
            current, known = known or self.get(execution_id), None
            change = None if current is None else apply(current)
            if current is None or change is None or isinstance(change, ExecutionRecord):
                return None if current is None or change is None else Updated(current, current)
            if (written := self.transition(current, *change, job=job)) is not None:
                return Updated(current, written)
        raise ContentionError(f"execution {execution_id}: too much contention to update it")

    def create_many(
        self, records: Sequence[ExecutionRecord], batch: int = 1000
    ) -> list[ExecutionRecord | None]:
        """Store new executions, pending, with pipelined ``create.lua`` calls.

        The one way a record comes to be: a submission, one or a batch. ``batch`` records
        go per round trip.

        Returns:
            Each stored record, in order; ``None`` where the id was taken.

        Raises:
            ValueError: A record is not a plain submission (pending, unclaimed, in no other
                index): a record's later states come from transitions.
        """
        news = [r if r.version == 0 else evolve(r, version=0) for r in records]
        for record in news:
            if not plain(record):
                raise ValueError(f"execution {record.id!r} is not a plain new submission")
        if len(news) == 1:
            # One script call without a pipeline: a pipeline of scripts first asks
            # Redis whether it has them (a round trip more).
            stored = self._as_stored(news[0])
            ((keys, args),) = create_calls(self._shards.of(stored.id), [stored], self._cap)
            return [stored_as(stored, self._create(keys=keys, args=args)[0])]
        results: list[ExecutionRecord | None] = []
        for start in range(0, len(news), batch):
            chunk = list(enumerate(self._as_stored(r) for r in news[start : start + batch]))
            calls = ScriptBatch(self._redis)
            order: list[int] = []
            # A call stores records of one shard: its keys are one Redis Cluster slot.
            for shard, group in self._shards.group(chunk, lambda item: item[1].id).items():
                records = [r for _, r in group]
                for keys, args in create_calls(self._shards.keys[shard], records, self._cap):
                    calls.add(self._create, keys, args)
                order += [i for i, _ in group]
            versions = [v for reply in calls.execute() for v in reply]
            by_index = dict(zip(order, versions, strict=True))
            results += [stored_as(r, by_index[i]) for i, r in chunk]
        return results

    def transition_many(
        self,
        pairs: Sequence[tuple[ExecutionRecord, ExecutionRecord]],
        batch: int = 1000,
        events: Sequence[Sequence[Event]] | None = None,
        *,
        job: str | None = None,
    ) -> list[ExecutionRecord | None]:
        """The store's one write of existing records: a compare-and-set each, pipelined.

        :meth:`transition` is this for one record, and :meth:`update` its retry loop.

        Args:
            pairs: ``(current, new)`` of each record.
            batch: The most writes per round trip.
            events: Each pair's extra events, as :meth:`transition` takes them.
            job: The Celery job whose results these are, as :meth:`transition` takes it.

        Returns:
            Each new record with its new version, in order; ``None`` where the stored
            version was no longer the current one.
        """
        prepared: list[Write] = []
        for index, (current, new) in enumerate(pairs):
            if new.id != current.id:
                raise ValueError(f"cannot transition {current.id!r} into {new.id!r}")
            extra = () if events is None else events[index]
            prepared.append((current, evolve(new, version=current.version), extra))
        return self._pipelined(prepared, batch, job)

    def _pipelined(
        self, writes: Sequence[Write], batch: int, job: str | None = None
    ) -> list[ExecutionRecord | None]:
        """Write each chunk of ``batch`` in one round trip.

        The writes of hot fields alone go in one script call, the others in one
        transition call each. A lone write is one script call, without a pipeline: a
        pipeline of scripts first asks Redis whether it has them (a round trip more).
        """
        if len(writes) == 1:
            current, new, extra = writes[0]
            return [self._write(current, new, extra, job)]
        results: list[ExecutionRecord | None] = []
        for start in range(0, len(writes), batch):
            chunk = writes[start : start + batch]
            lights = [is_light(current, new, extra) for current, new, extra in chunk]
            calls = ScriptBatch(self._redis)
            full = []
            for (current, new, extra), light in zip(chunk, lights, strict=True):
                if not light:
                    keys, args, stored = self._call(current, new, extra, job)
                    calls.add(self._transition, keys, args)
                    full.append(stored)
            touching = [
                (i, (c, n)) for i, ((c, n, _), light) in enumerate(zip(chunk, lights, strict=True))
                if light
            ]  # fmt: skip
            # One touch call per shard: its keys are one Redis Cluster slot.
            groups = self._shards.group(touching, lambda item: item[1][1].id)
            for shard, group in groups.items():
                pairs = [pair for _, pair in group]
                calls.add(self._touch, *touch_call(self._shards.keys[shard], pairs))
            replies = calls.execute()
            touched: dict[int, Any] = {}
            for group, reply in zip(groups.values(), replies[len(full) :], strict=True):
                touched.update(zip((i for i, _ in group), reply, strict=True))
            written = iter(zip(full, replies, strict=False))
            for index, ((_, new, _), light) in enumerate(zip(chunk, lights, strict=True)):
                if light:
                    results.append(stored_as(new, touched[index]))
                else:
                    stored, version = next(written)
                    results.append(stored_as(stored, version))
        return results

    def _write(
        self,
        current: ExecutionRecord,
        new: ExecutionRecord,
        extra_events: Sequence[Event] = (),
        job: str | None = None,
    ) -> ExecutionRecord | None:
        if is_light(current, new, extra_events):
            keys, args = touch_call(self._shards.of(new.id), [(current, new)])
            return stored_as(new, self._touch(keys=keys, args=args)[0])
        keys, args, new = self._call(current, new, extra_events, job)
        return stored_as(new, self._transition(keys=keys, args=args))

    def _call(
        self,
        current: ExecutionRecord,
        new: ExecutionRecord,
        extra_events: Sequence[Event] = (),
        job: str | None = None,
    ) -> tuple[list[str], list[Any], ExecutionRecord]:
        """The transition script's keys and arguments, and the record as stored."""
        new = self._as_stored(new)
        if job is not None:
            extra_events = [e if e.job else replace(e, job=job) for e in extra_events]
        if self._redact is not None:
            extra_events = [redact_event(e, self._redact) for e in extra_events]
        keys, args = transition_call(
            self._shards.of(new.id), (current, new, extra_events), job, self._cap,
            self._retention_s,
        )  # fmt: skip
        return keys, args, new

    def _as_stored(self, new: ExecutionRecord) -> ExecutionRecord:
        """``new`` as a full write stores it: counted, and its secrets masked."""
        # From this write on, the record is counted under its task type and phase.
        new = new if new.counted else evolve(new, counted=True)
        # Secrets quoted by an error never reach Redis (or anyone who reads it).
        return new if self._redact is None else redact_record(new, self._redact)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, execution_id: str) -> ExecutionRecord | None:
        """The record, or ``None`` if it does not exist (or expired)."""
        found = self.get_many([execution_id])
        return found[0] if found else None

    def get_many(self, execution_ids: list[str]) -> list[ExecutionRecord]:
        """The records that exist among ``execution_ids``, in order (one MGET per shard)."""
        return read_records(self._redis, self._shards, execution_ids, self._rewrite)

    def _rewrite(self, older: ExecutionRecord) -> ExecutionRecord:
        """An earlier release's record, rewritten in this layout (no event: nothing changed)."""
        keys, args, _ = self._call(older, older)
        version = int(self._transition(keys=keys, args=args))
        return older if version < 0 else evolve(older, version=version, counted=True)

    def events(self, execution_id: str) -> list[Event]:
        """The execution's events, oldest first."""
        return read_events(self._redis, self._shards.of(execution_id), execution_id)

    def page(
        self,
        where: ExecutionFilter,
        after: Cursor | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> tuple[list[ExecutionRecord], Cursor | None]:
        """A page of the newest-first listing and the next one's cursor (:meth:`Listing.page`).

        With several shards each is read after the same cursor (``scan`` bounds each) and
        the pages merged: the same executions and order as one shard would give.
        """
        if len(self._listings) == 1:
            return self._listings[0].page(where, after, limit, scan)
        pages = [listing.page(where, after, limit, scan) for listing in self._listings]
        return merge_pages(pages, limit)

    def list(self, where: ExecutionFilter | None = None, limit: int = 100) -> list[ExecutionRecord]:
        """The newest ``limit`` executions matching ``where`` (every filter given)."""
        return self.page(where or ExecutionFilter(), None, limit)[0]
