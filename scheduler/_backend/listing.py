"""One page of the newest-first listing of executions, read from the index of all of them.

The index scores each execution by its submission time (milliseconds), so a page is read
with ``ZREVRANGEBYSCORE`` from the previous page's :class:`~scheduler._model.listing.Cursor`
down, chunk by chunk. Each chunk starts at the score where the last one ended, skipping
only the entries of that score already read (a keyset, not an offset into the whole
index): a read costs O(log N + chunk) however deep the page, and executions that arrive
meanwhile neither repeat nor hide others. (One that expires at the very moment a page is
read, at or above the cursor, can hide one neighbour of the cursor's instant: the reads
are not one transaction, because a viewer's Redis user may not run MULTI or scripts.)
A filter reads records until the page is full or ``scan`` index entries have been read,
whichever comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from redis import Redis

from plugins.errors import ConfigError
from scheduler._backend.scripts import decode
from scheduler._model import Cursor, ExecutionFilter, ExecutionRecord

__all__ = ["Listing"]

_CHUNK = 100
"""The fewest index entries read per round trip when a filter may drop some."""


class Listing:
    """Pages of the store's index of all executions.

    Args:
        redis: The store's Redis.
        index: The key of the index of all executions.
        get_many: Reads records by id (missing ones left out).
    """

    def __init__(
        self, redis: Redis, index: str, get_many: Callable[[list[str]], list[ExecutionRecord]]
    ) -> None:
        self._redis, self._index, self._get_many = redis, index, get_many

    def page(
        self,
        where: ExecutionFilter,
        after: Cursor | None = None,
        limit: int = 100,
        scan: int | None = None,
    ) -> tuple[list[ExecutionRecord], Cursor | None]:
        """Up to ``limit`` executions matching ``where``, newest first, after ``after``.

        Args:
            where: The filter.
            after: Where the previous page ended (``None``: at the newest).
            limit: The most executions returned.
            scan: The most index entries read (``None``: no bound); a page cut short by
                it holds fewer than ``limit`` and a cursor to go on from.

        Returns:
            The page, and the cursor of the last entry read when more may follow (the
            page is full, or the scan bound was reached), else ``None``.

        Raises:
            ConfigError: ``limit`` or ``scan`` is below 1 (a ``ValueError``).
        """
        if limit < 1 or (scan is not None and scan < 1):
            raise ConfigError(f"a page needs limit >= 1 and scan >= 1, got {limit} and {scan}")
        return _read_page(self._redis, self._index, self._get_many, where, after, limit, scan)


def _shown_at(redis: Redis, index: str, after: Cursor) -> int:
    """How many entries of the cursor's score come before it and it (those already shown).

    Ranks say it in one round trip; if the cursor's execution is gone (it expired), 0:
    the id comparison in the scan then skips them instead.
    """
    pipe = redis.pipeline(transaction=False)
    pipe.zrevrank(index, after.id)
    pipe.zscore(index, after.id)
    pipe.zcount(index, f"({after.score}", "+inf")
    rank, score, above = pipe.execute()
    if rank is None or score is None or int(score) != after.score:
        return 0
    return int(rank) - int(above) + 1


def _read_page(  # noqa: PLR0917 - the private body of Listing.page
    redis: Redis,
    index: str,
    get_many: Callable[[list[str]], list[ExecutionRecord]],
    where: ExecutionFilter,
    after: Cursor | None,
    limit: int,
    scan: int | None,
) -> tuple[list[ExecutionRecord], Cursor | None]:
    top: float | str = "+inf" if after is None else after.score
    # Entries of score ``top`` already read: at one score they come in a fixed order.
    done_at_top = 0 if after is None else _shown_at(redis, index, after)
    found: list[ExecutionRecord] = []
    read = 0
    chunk = limit if where == ExecutionFilter() else max(limit, _CHUNK)
    while True:
        if scan is not None:
            chunk = max(1, min(chunk, scan - read))
        rows = cast(
            list[tuple[bytes, float]],
            redis.zrevrangebyscore(
                index, top, "-inf", start=done_at_top, num=chunk, withscores=True
            ),
        )
        if not rows:
            return found, None
        scores: dict[str, int] = {}
        for member, raw_score in rows:
            exec_id, score = decode(member), int(raw_score)
            # Equal scores come in reverse id order: from the cursor's id up, already shown
            # (only when its execution expired; otherwise the ranks skipped those).
            if after is not None and score == after.score and exec_id >= after.id:
                continue
            scores[exec_id] = score
        read += len(scores)
        for record in get_many(list(scores)):
            if where.matches(record):
                found.append(record)
                if len(found) == limit:
                    return found, Cursor(scores[record.id], record.id)
        last = Cursor(int(rows[-1][1]), decode(rows[-1][0]))
        ties = sum(1 for _, s in rows if int(s) == last.score)
        done_at_top = done_at_top + ties if last.score == top else ties
        top = last.score
        if scan is not None and read >= scan:
            return found, last
