"""The scheduler's leader lease on a real Redis: taken, kept within a tick, lost."""

from __future__ import annotations

from datetime import timedelta

import redis

from scheduler._backend import LeaderLease


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keep_renews_only_after_a_third_of_the_lease(redis_client: redis.Redis) -> None:
    ticks = Ticks()
    leader = LeaderLease(redis_client, "lease", timedelta(seconds=9), monotonic=ticks)
    standby = LeaderLease(redis_client, "lease", timedelta(seconds=9), monotonic=ticks)
    assert leader.acquire() and not standby.acquire()
    # Taken from under it (as if the key were lost and a standby took it): within a third
    # of its lease the leader trusts the lease it renewed and asks Redis nothing...
    redis_client.set("lease", standby.owner)
    ticks.now = 2.9
    assert leader.keep()
    # ...after that, it asks, and learns it no longer leads.
    ticks.now = 3.0
    assert not leader.keep()
    assert not leader.keep()  # and keeps asking until it leads again
    assert standby.keep()


def test_keep_takes_a_free_lease_and_release_drops_it(redis_client: redis.Redis) -> None:
    ticks = Ticks()
    lease = LeaderLease(redis_client, "lease", timedelta(seconds=9), monotonic=ticks)
    assert lease.keep()  # never taken: keep asks Redis, and takes it
    assert lease.holder() == lease.owner
    lease.release()
    assert lease.holder() is None
    redis_client.set("lease", "someone else")
    assert not lease.keep()  # released: keep asks again, at once
