"""Every Redis key flyte-celery uses, named in one place.

Keys of one deployment start with its ``key_prefix`` (``FLYTE_CELERY_KEY_PREFIX``).
The execution store's and the result cache's keys share the hash tag
``{<prefix>}``, so their Lua scripts touch one Redis Cluster slot; each quota
namespace has a hash tag of its own::

    {p}:exec:<id>                STRING  the record: CAS version, hot fields, document
                                         (see :mod:`.records`)
    {p}:events:<id>              LIST    the event log, capped
    {p}:naming:<id>              STRING  a name being submitted (a minute at most)
    {p}:done:<id>                channel an execution's end, for clients that wait on it
    {p}:all, {p}:finished        ZSET    listing indexes
    {p}:pending, {p}:due, {p}:timeouts, {p}:claims, {p}:waiting:<ns>, {p}:backlog:<queue>
                                 ZSET    work indexes of unfinished executions
    {p}:backlogged               SET     queues whose line {p}:backlog:<queue> may be non-empty
    {p}:runs, {p}:run-owners, {p}:run-members
                                 ZSET, HASH, HASH  run leases of steps in progress
    {p}:cache:entry:<digest>     STRING  a result-cache entry (JSON)
    {p}:cache:reservations       HASH    digest -> owner|expiry ms
    p:leader                     STRING  the scheduler lease
    p:tokens                     HASH    quota token -> execution id
    p:wake                       LIST    the scheduler's wake-up list
    p:beats                      ZSET    live scheduler processes -> lease expiry (ms)
    p:served                     HASH    task type -> plugin id|expiry ms, of live processes
    p:limit:<plugin>:<kind>      STRING  a rate limiter's bucket
    p:rm:{<ns>}:<part>           ...     a quota namespace (see :mod:`.quota`)
    p:rm:namespaces              SET     every quota namespace
    p:api:tokens                 HASH    SHA-256 of an API token -> its name and grants
    p:api:token-names            HASH    an API token's name -> its SHA-256
    p:api:signin-failures:<who>  STRING  failed sign-ins of one address (a minute)

Shards (``FLYTE_CELERY_SHARDS``, see ``docs/scaling.md``): an execution belongs to shard
:func:`shard_of` its id, and each shard has its own store (records, events, indexes,
run leases: one hash tag, one Redis Cluster slot), its own scheduler lease and wake-up
list. Shard 0's names are the ones above, so a one-shard deployment keeps its keys;
shard ``n`` tags its store ``{p#n}``, its lease is ``p:leader#n`` and its wake-up list
``{p:wake}#n`` (the slot of ``p:wake``). Quotas, token owners, rate limiters, served
task types and the result cache are shared by every shard.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["NO_WAITING", "Keys", "quota_key", "quota_namespaces_key", "shard_of"]

NO_WAITING = "-"
"""The waiting-index name that stands for "not waiting" (its set stays empty)."""


def quota_key(prefix: str, namespace: str, part: str) -> str:
    """A quota namespace's key: ``<prefix>:{<namespace>}:<part>``."""
    return f"{prefix}:{{{namespace}}}:{part}"


def quota_namespaces_key(prefix: str) -> str:
    """The set of every quota namespace under ``prefix``."""
    return f"{prefix}:namespaces"


def shard_of(execution_id: str, shards: int) -> int:
    """The shard an execution belongs to: CRC-32 of its id, modulo the shard count.

    The count is fixed for a deployment's life: changing it moves executions.

    Raises:
        ValueError: ``shards`` is not positive.
    """
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return zlib.crc32(execution_id.encode()) % shards


@dataclass(frozen=True)
class Keys:
    """The key names of one deployment, for one shard of its executions.

    Attributes:
        prefix: The deployment's key prefix.
        shard: The shard whose store, scheduler lease and wake-up list these name.
    """

    prefix: str = "flyte-celery"
    shard: int = 0

    def _sharded(self, name: str) -> str:
        return name if self.shard == 0 else f"{name}#{self.shard}"

    @property
    def tag(self) -> str:
        """The hash tag of the shard's store (and of the result cache, on shard 0)."""
        return f"{{{self._sharded(self.prefix)}}}"

    # -- the execution store -------------------------------------------------------------------

    def record(self, execution_id: str) -> str:
        """An execution's record."""
        return f"{self.tag}:exec:{execution_id}"

    def name_claim(self, execution_id: str) -> str:
        """A short-lived claim on a name being submitted (before its files are written)."""
        return f"{self.tag}:naming:{execution_id}"

    def events(self, execution_id: str) -> str:
        """An execution's event log."""
        return f"{self.tag}:events:{execution_id}"

    def done(self, execution_id: str) -> str:
        """The pub/sub channel where an execution's end is announced (see :mod:`.done`)."""
        return f"{self.tag}:done:{execution_id}"

    def index(self, name: str) -> str:
        """One of the store's indexes: all, finished, pending, due, timeouts, claims."""
        return f"{self.tag}:{name}"

    def waiting(self, namespace: str | None) -> str:
        """The index of executions waiting for a token of ``namespace``."""
        return self.index(f"waiting:{NO_WAITING if namespace is None else namespace}")

    def backlog(self, queue: str) -> str:
        """The index of executions waiting for room in Celery queue ``queue``."""
        return self.index(f"backlog:{queue}")

    @property
    def runs(self) -> str:
        """Run leases of steps in progress: owner -> expiry (ms)."""
        return f"{self.tag}:runs"

    @property
    def run_owners(self) -> str:
        """Which owner holds the run lease of each step: ``<id>|<claim>`` -> owner."""
        return f"{self.tag}:run-owners"

    @property
    def run_members(self) -> str:
        """The steps each owner took run leases of: owner -> ``<id>|<claim>``, one a line."""
        return f"{self.tag}:run-members"

    # -- the result cache ----------------------------------------------------------------------

    def cache_entry(self, digest: str) -> str:
        """A result-cache entry (shared by every shard: shard 0's tag)."""
        return f"{{{self.prefix}}}:cache:entry:{digest}"

    @property
    def cache_reservations(self) -> str:
        """Every ``cache_serialize`` reservation (shared by every shard)."""
        return f"{{{self.prefix}}}:cache:reservations"

    # -- the scheduler and the workers ---------------------------------------------------------

    @property
    def leader(self) -> str:
        """The scheduler's leadership lease."""
        return self._sharded(f"{self.prefix}:leader")

    @property
    def tokens(self) -> str:
        """Which execution each quota token belongs to (shared by every shard)."""
        return f"{self.prefix}:tokens"

    @property
    def beats(self) -> str:
        """The scheduler processes alive now, which share the shards' leadership."""
        return f"{self.prefix}:beats"

    @property
    def served(self) -> str:
        """The task types live processes serve (see :mod:`.served`)."""
        return f"{self.prefix}:served"

    @property
    def wake(self) -> str:
        """The list a shard's scheduler blocks on between ticks.

        Every shard's list is in one Redis Cluster slot, so a scheduler leading several
        shards blocks on all of theirs in one call: shard 0's ``p:wake`` hashes its whole
        name, and shard ``n``'s ``{p:wake}#n`` hashes the same text by its hash tag.
        """
        name = f"{self.prefix}:wake"
        return name if self.shard == 0 else f"{{{name}}}#{self.shard}"

    def limiter(self, plugin_id: str, kind: str) -> str:
        """A plugin's read or write rate limiter."""
        return f"{self.prefix}:limit:{plugin_id}:{kind}"

    @property
    def quota_prefix(self) -> str:
        """The prefix of the quota namespaces' keys."""
        return f"{self.prefix}:rm"

    # -- the API server ------------------------------------------------------------------------

    @property
    def api_tokens(self) -> str:
        """The API's tokens, by the SHA-256 of each (see :mod:`.api_tokens`)."""
        return f"{self.prefix}:api:tokens"

    @property
    def api_token_names(self) -> str:
        """Each API token's name -> the SHA-256 it is kept under (names are unique)."""
        return f"{self.prefix}:api:token-names"

    def signin_failures(self, who: str) -> str:
        """Failed sign-ins from one address, counted for a minute."""
        return f"{self.prefix}:api:signin-failures:{who}"
