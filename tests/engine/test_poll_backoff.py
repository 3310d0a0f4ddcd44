"""After Create, Gets back off (1 s, 2 s, 4 s...) up to the resync interval, on injected time.

Flyte polls a created job once per resync interval, so a 3 s job is seen done up to 30 s
late; here the wait before each Get is as long as the job has run so far
(``caching.pollBackoff``, 1 s by default), and ``0s`` is Flyte's schedule.
"""

from __future__ import annotations

from datetime import timedelta

from plugins.core import Phase
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template

STEP = timedelta(milliseconds=500)


def get_times(h: Harness, seconds: float) -> list[float]:
    """Seconds after Create at which the remote service was asked for the job's state."""
    created = h.now
    times = []
    seen = h.service.gets
    while (h.now - created).total_seconds() < seconds:
        h.advance(STEP)
        h.drain()
        if h.service.gets != seen:
            times.extend([(h.now - created).total_seconds()] * (h.service.gets - seen))
            seen = h.service.gets
    return times


def test_gets_back_off_from_one_second_to_the_resync_interval(harness_factory) -> None:
    h: Harness = harness_factory(resync=30)
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()  # Create, and the first Get at once
    assert ex.refresh().phase is Phase.RUNNING and h.service.gets == 1
    assert get_times(h, 100) == [1, 2, 4, 8, 16, 32, 62, 92]


def test_a_short_job_is_seen_done_soon_after_it_ends(harness_factory) -> None:
    h: Harness = harness_factory(resync=30)
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    token = ex.refresh().record.token
    assert get_times(h, 3) == [1, 2]
    h.service.jobs[token] = "SUCCEEDED"  # the job ends 3 s after Create
    h.until(lambda: ex.refresh().phase is Phase.SUCCESS, step=STEP)
    ended = next(e.occurred_at for e in ex.events() if e.phase is Phase.SUCCESS)
    assert ended - ex.record.created_at == timedelta(seconds=4)  # the Get at 4 s, not at 30 s


def test_no_back_off_polls_every_resync_as_flyte_does(harness_factory) -> None:
    h: Harness = harness_factory(
        resync=30, plugin_configs={"remote": {"caching": {"pollBackoff": "0s"}}}
    )
    h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert get_times(h, 100) == [30, 60, 90]


def test_a_longer_first_wait_doubles_from_there(harness_factory) -> None:
    h: Harness = harness_factory(
        resync=60, plugin_configs={"remote": {"caching": {"pollBackoff": "5s"}}}
    )
    h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert get_times(h, 150) == [5, 10, 20, 40, 80, 140]


def test_a_signal_still_asks_for_a_get_at_once(harness_factory) -> None:
    h: Harness = harness_factory(resync=30)
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert get_times(h, 20) == [1, 2, 4, 8, 16]
    ex.signal()  # the next Get would come at 32 s
    h.drain()
    assert h.service.gets == 7


def test_a_failed_get_is_tried_again_on_the_same_back_off(harness_factory) -> None:
    h: Harness = harness_factory(resync=30)  # two failed Gets are tolerated, a third fails it
    ex = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    h.service.fail_gets_after = h.service.gets  # every Get from now on times out
    assert get_times(h, 5)[:3] == [1, 2, 4]
    err = ex.refresh().error()  # the third failure ended the attempt
    assert err is not None and err.code == "AutoRefreshCacheFailed", err
