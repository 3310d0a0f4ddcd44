r"""RedisResourceManager: global quotas with project and domain caps, leases and reaping.

Flyte's Redis resource manager checks and adds in separate round trips (so it
can exceed its quota), counts scope members by string prefix (so project
``flyte`` also counts ``flytesnacks``), and never frees a token whose holder
crashed. Here:

- one Lua script checks the global quota and both caps and takes the token;
- caps count exact (project) and (project, domain) pairs, never prefixes;
- every token carries a lease on Redis's clock. The holder renews it; an expired
  token is reaped (by the next allocation in its namespace, or by :meth:`reap`).

Keys of one namespace share a Redis Cluster hash tag, so each script touches one slot::

    <prefix>:{<namespace>}:quota     STRING  the registered quota
    <prefix>:{<namespace>}:holders   ZSET    token -> lease expiry, ms (Redis clock)
    <prefix>:{<namespace>}:owners    HASH    token -> project \x1f domain
    <prefix>:{<namespace>}:projects  HASH    project -> tokens held
    <prefix>:{<namespace>}:domains   HASH    project \x1f domain -> tokens held
    <prefix>:{<namespace>}:stats     HASH    grants, denials, reaps, releases
    <prefix>:namespaces              SET     every registered namespace

None of these expire: they are bounded by the quota (at most 1000 holders) and
by the number of namespaces and projects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from redis import Redis

from plugins.core import (
    MAX_RESOURCE_QUOTA,
    AllocationStatus,
    ResourceConstraintsSpec,
    ResourceNamespace,
)
from plugins.errors import ConfigError
from scheduler._backend.keys import quota_key, quota_namespaces_key
from scheduler._backend.scripts import decode, load_script

__all__ = ["DEFAULT_LEASE", "QuotaMetrics", "RedisResourceManager"]

DEFAULT_LEASE = timedelta(minutes=5)
"""How long a token survives without renewal. It must outlast the longest scheduler
stall (a leader failover included), or a live execution's slot is reaped."""

_STATUS = {
    1: AllocationStatus.GRANTED,
    2: AllocationStatus.EXHAUSTED,
    3: AllocationStatus.NAMESPACE_QUOTA_EXCEEDED,
}


@dataclass(frozen=True)
class QuotaMetrics:
    """A namespace's quota use.

    Attributes:
        namespace: The namespace.
        quota: Its registered quota.
        held: Tokens held now (expired, unreaped ones included).
        grants: Allocations granted, ever (re-grants of a held token excluded).
        denials: Allocations refused, ever.
        reaps: Tokens dropped because their lease expired.
        releases: Tokens given back.
    """

    namespace: str
    quota: int
    held: int
    grants: int
    denials: int
    reaps: int
    releases: int


class RedisResourceManager:
    """Quota tokens in Redis, shared by every process that uses the same Redis.

    Implements :class:`plugins.core.ResourceManager` and
    :class:`plugins.core.ResourceRegistrar`.

    Args:
        redis_client: A ``redis.Redis`` client.
        key_prefix: Prefix of every key this manager uses.
        lease: How long a token lives without :meth:`renew`.
    """

    def __init__(
        self,
        redis_client: Redis,
        *,
        key_prefix: str = "flyte-celery:rm",
        lease: timedelta = DEFAULT_LEASE,
    ) -> None:
        if lease <= timedelta(0):
            raise ConfigError(f"lease must be positive, got {lease}")
        self._redis = redis_client
        self._prefix = key_prefix
        self._lease_ms = max(1, int(lease.total_seconds() * 1000))
        self._allocate = load_script(redis_client, "allocate")
        self._release = load_script(redis_client, "release")
        self._renew = load_script(redis_client, "renew")
        self._reap = load_script(redis_client, "reap")

    # -- keys ----------------------------------------------------------------------------------

    def _key(self, namespace: str, suffix: str) -> str:
        return quota_key(self._prefix, str(namespace), suffix)

    def _holder_keys(self, namespace: str) -> list[str]:
        return [
            self._key(namespace, s) for s in ("holders", "owners", "projects", "domains", "stats")
        ]

    # -- ResourceManager / ResourceRegistrar ---------------------------------------------------

    def get_id(self) -> str:
        """``"redisresourcemanager"``, as Flyte's."""
        return "redisresourcemanager"

    def register_resource_quota(self, namespace: ResourceNamespace | str, quota: int) -> None:
        """Declare ``namespace``'s quota, for every process on this Redis.

        Registering the same quota again is fine.

        Raises:
            ConfigError: ``quota`` is not in (0, 1000], or ``namespace`` is already
                registered with another quota (change it with :meth:`set_resource_quota`).
        """
        _check_quota(namespace, quota)
        key = self._key(namespace, "quota")
        if not self._redis.set(key, quota, nx=True):
            current = int(decode(self._redis.get(key)))
            if current != quota:
                raise ConfigError(
                    f"resource namespace {str(namespace)!r} is already registered with quota "
                    f"{current}, not {quota}; use set_resource_quota() to change it"
                )
        self._redis.sadd(quota_namespaces_key(self._prefix), str(namespace))

    def set_resource_quota(self, namespace: ResourceNamespace | str, quota: int) -> None:
        """Set or change ``namespace``'s quota. Tokens already held above it stay held.

        Raises:
            ConfigError: ``quota`` is not in (0, 1000].
        """
        _check_quota(namespace, quota)
        self._redis.set(self._key(namespace, "quota"), quota)
        self._redis.sadd(quota_namespaces_key(self._prefix), str(namespace))

    def allocate_resource(
        self,
        namespace: ResourceNamespace | str,
        token: str,
        constraints: ResourceConstraintsSpec | None = None,
        *,
        project: str,
        domain: str,
    ) -> AllocationStatus:
        """Take ``token`` from ``namespace`` in one atomic step.

        A token already held is granted again (its lease renewed). Past the global
        quota the answer is EXHAUSTED; past the project or (project, domain) cap it is
        NAMESPACE_QUOTA_EXCEEDED.

        Raises:
            ConfigError: ``namespace`` has no registered quota.
        """
        spec = constraints or ResourceConstraintsSpec()
        project_cap = -1 if spec.project_scope is None else spec.project_scope.value
        domain_cap = -1 if spec.namespace_scope is None else spec.namespace_scope.value
        status, _held = self._allocate(
            keys=[self._key(namespace, "quota"), *self._holder_keys(namespace)],
            args=[token, project, domain, project_cap, domain_cap, self._lease_ms],
        )
        if int(status) == 0:
            raise ConfigError(
                f"resource namespace {str(namespace)!r} has no registered quota; register it "
                "with register_resource_quota() (plugins do so through their resource_quotas)"
            )
        return _STATUS[int(status)]

    def release_resource(self, namespace: ResourceNamespace | str, token: str) -> bool:
        """Give ``token`` back. Idempotent: a token that is not held is ignored.

        Returns:
            Whether the token was held.
        """
        return bool(self._release(keys=self._holder_keys(namespace), args=[token]))

    # -- leases --------------------------------------------------------------------------------

    def renew(self, namespace: ResourceNamespace | str, *tokens: str) -> int:
        """Extend the leases of ``tokens`` by the lease time from now.

        A token whose lease already expired is not revived: its slot may already
        have been counted as free. Allocate it again instead.

        Returns:
            How many of the tokens were held and renewed.
        """
        if not tokens:
            return 0
        return int(
            self._renew(keys=[self._key(namespace, "holders")], args=[self._lease_ms, *tokens])
        )

    def reap(self, namespace: ResourceNamespace | str | None = None) -> list[str]:
        """Free the tokens whose lease expired, in one namespace or in all.

        Returns:
            The tokens reaped.
        """
        namespaces = [str(namespace)] if namespace is not None else self.namespaces()
        reaped: list[str] = []
        for ns in namespaces:
            reaped.extend(decode(t) for t in self._reap(keys=self._holder_keys(ns)))
        return reaped

    # -- inspection ----------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        """Every registered namespace, sorted."""
        return sorted(decode(n) for n in self._redis.smembers(quota_namespaces_key(self._prefix)))

    def quota(self, namespace: ResourceNamespace | str) -> int | None:
        """The registered quota, or ``None``."""
        value = self._redis.get(self._key(namespace, "quota"))
        return None if value is None else int(decode(value))

    def holders(self, namespace: ResourceNamespace | str) -> list[str]:
        """The tokens held now, sorted."""
        return sorted(decode(t) for t in self._redis.zrange(self._key(namespace, "holders"), 0, -1))

    def metrics(self, namespace: ResourceNamespace | str) -> QuotaMetrics:
        """Quota, tokens held and counters of ``namespace``."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key(namespace, "quota"))
        pipe.zcard(self._key(namespace, "holders"))
        pipe.hgetall(self._key(namespace, "stats"))
        quota, held, stats = pipe.execute()
        counts = {decode(k): int(decode(v)) for k, v in stats.items()}
        return QuotaMetrics(
            namespace=str(namespace),
            quota=0 if quota is None else int(decode(quota)),
            held=int(held),
            grants=counts.get("grants", 0),
            denials=counts.get("denials", 0),
            reaps=counts.get("reaps", 0),
            releases=counts.get("releases", 0),
        )


def _check_quota(namespace: str, quota: int) -> None:
    if isinstance(quota, bool) or not isinstance(quota, int) or not 0 < quota <= MAX_RESOURCE_QUOTA:
        raise ConfigError(
            f"quota of resource namespace {str(namespace)!r} must be an int in "
            f"(0, {MAX_RESOURCE_QUOTA}], got {quota!r}"
        )
