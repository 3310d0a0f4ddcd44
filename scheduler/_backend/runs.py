"""Run leases: a worker that runs a claimed step says so, and keeps saying so.

Celery with Redis redelivers a message that stays unacknowledged for a visibility
timeout, and a claim alone cannot tell a step still running from one whose worker
died. So a worker takes a short lease on the claim before the plugin call and
renews it while the call runs:

- a second delivery of the same job finds the lease held and does nothing, so a
  call longer than the visibility timeout runs once;
- a worker that dies stops renewing, and the scheduler finds the lapsed lease
  within seconds and publishes the step again, instead of after the visibility
  timeout.

A lease is held by an owner (a job's run, or a worker's reservation of a job it
received) for the steps ``<execution id>|<claim>`` it took: one sorted set scores each
owner by its expiry, one hash names each step's owner, and one lists each owner's steps
(for the reaper); all under the hash tag of the execution's shard. A job's leases are
taken, renewed and dropped together, so a call costs Redis a few commands whatever the
job's size. Times come from the caller's clock, like every other time the engine writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from redis import Redis

from scheduler._backend.keys import Keys
from scheduler._backend.scripts import decode, load_script, to_ms
from scheduler._backend.shards import ShardMap
from scheduler._model import Claim

__all__ = ["RunLeases", "parse_member", "run_member"]


def run_member(execution_id: str, claim: Claim) -> str:
    """The lease member of a claimed step: ``<execution id>|<claim>``."""
    return f"{execution_id}|{claim}"


def _execution(member: str) -> str:
    return member.rpartition("|")[0]


def parse_member(member: str) -> tuple[str, Claim]:
    """The execution id and claim of a lease member."""
    execution_id, _, claim = member.rpartition("|")
    return execution_id, Claim.parse(claim)


class RunLeases:
    """Run leases in Redis.

    Args:
        redis_client: The deployment's Redis.
        keys: The key names of the shard whose lapsed leases :meth:`reap` finds.
        shards: Every shard's key names: a lease is kept under its execution's shard.
    """

    def __init__(self, redis_client: Redis, keys: Keys, shards: ShardMap) -> None:
        self._redis = redis_client
        self._keys = keys
        self._shards = shards
        self._run = load_script(redis_client, "run")
        self._reap = load_script(redis_client, "reapruns")

    def _each(
        self,
        mode: str,
        members: Sequence[str],
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        reserved_by: str = "",
    ) -> list[bool]:
        if not members:
            return []
        args: list[str | int] = [mode, owner, to_ms(now), to_ms(now + lease), reserved_by]
        held: list[bool] = [False] * len(members)
        for keys, positions in self._by_shard(members):  # one call per job (of one shard)
            replies = self._run(
                keys=[keys.runs, keys.run_owners, keys.run_members],
                args=[*args, *(members[p] for p in positions)],
            )
            for position, reply in zip(positions, replies, strict=True):
                held[position] = bool(int(reply))
        return held

    def _by_shard(self, members: Sequence[str]) -> list[tuple[Keys, list[int]]]:
        """The positions of ``members`` by the key names of their executions' shards."""
        shards = self._shards
        groups = shards.group(range(len(members)), lambda i: _execution(members[i]))
        return [(shards.keys[shard], positions) for shard, positions in groups.items()]

    def take(
        self, members: Sequence[str], owner: str, now: datetime, lease: timedelta
    ) -> list[bool]:
        """Take each lease unless another owner holds it unexpired; whether each was taken."""
        return self._each("take", members, owner, now, lease)

    def start(
        self,
        members: Sequence[str],
        owner: str,
        now: datetime,
        lease: timedelta,
        *,
        reserved_by: str,
    ) -> list[bool]:
        """Take each lease to run its step: free, lapsed, or reserved by ``reserved_by``.

        A worker reserves a job's leases as it receives it (owner ``reserved_by``); the
        process that runs the job takes them over under its own ``owner``. A second
        delivery of the same job, reserved under the same name, then finds them held by
        that run and does nothing. Returns whether each was taken.
        """
        return self._each("start", members, owner, now, lease, reserved_by=reserved_by)

    def renew(
        self, members: Sequence[str], owner: str, now: datetime, lease: timedelta
    ) -> list[bool]:
        """Extend the owner's leases to ``now + lease``; whether each was still held."""
        return self._each("renew", members, owner, now, lease)

    def drop(self, members: Sequence[str], owner: str, now: datetime) -> None:
        """Give the owner's leases up (when its step is done)."""
        self._each("drop", members, owner, now, timedelta(0))

    def expiry(self, member: str) -> datetime | None:
        """When a lease expires, if it exists."""
        ((keys, _),) = self._by_shard([member])
        owner = self._redis.hget(keys.run_owners, member)
        score = None if owner is None else self._redis.zscore(keys.runs, owner)
        if score is None and owner is not None:
            # A lease of the layout before leases were kept by owner: the member's own.
            score = self._redis.zscore(keys.runs, member)
        return None if score is None else datetime.fromtimestamp(score / 1000, tz=UTC)

    def reap(self, now: datetime, limit: int) -> list[tuple[str, Claim]]:
        """Drop leases that expired by ``now``; the (execution id, claim) of each.

        About ``limit`` at most: the steps of one owner are dropped together.
        """
        members = self._reap(
            keys=[self._keys.runs, self._keys.run_owners, self._keys.run_members],
            args=[to_ms(now), limit],
        )
        return [parse_member(decode(m)) for m in members]
