"""Execution.wait: woken by the execution's done message, and ending without one too."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from plugins.core import Phase
from scheduler import Client
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template
from tests.helpers import RedisServer, wait_for


def subscribers(h: Harness, execution_id: str) -> int:
    channel = h.runtime.keys.done(execution_id)
    return int(h.runtime.redis.pubsub_numsub(channel)[0][1])


def test_the_done_message_comes_when_an_execution_ends(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("echo"), ints(x=1))
    with h.runtime.done.watch(ex.id) as done:
        assert done.subscribed
        assert not done.wait(timedelta(0))  # nothing yet: it is QUEUED
        h.drain()
        assert ex.refresh().phase is Phase.SUCCESS
        assert done.wait(timedelta(seconds=60))  # the message came
    assert subscribers(h, ex.id) == 0  # leaving the block unsubscribed


def test_wait_is_subscribed_while_it_waits_and_returns_the_final_phase(harness_factory) -> None:
    h: Harness = harness_factory()
    ex = h.client.submit(template("echo"), ints(x=1))
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(ex.wait, 60)
        wait_for(lambda: subscribers(h, ex.id) == 1, timeout=60, what="wait() to subscribe")
        h.drain()
        assert waiting.result(timeout=60) is Phase.SUCCESS
    assert subscribers(h, ex.id) == 0
    # An execution that ended already: no message will come, the first read finds the end.
    assert ex.wait(60) is Phase.SUCCESS


def test_wait_ends_by_polling_when_it_may_not_subscribe(
    harness_factory, redis_server: RedisServer
) -> None:
    h: Harness = harness_factory()
    keys = h.runtime.keys
    user, password = f"no-channels-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    admin = redis_server.client()
    # A reader of the store that may subscribe to no channel: no done message reaches it.
    admin.execute_command(
        "ACL", "SETUSER", user, "reset", "on", f">{password}", f"~{keys.tag}:*", "+@read",
        "+@connection", "resetchannels",
    )  # fmt: skip
    url = f"redis://{user}:{password}@127.0.0.1:{redis_server.port}/0"
    reader = Client(url, settings=h.runtime.settings)
    try:
        ex = h.client.submit(template("echo"), ints(x=1))
        with reader.runtime.done.watch(ex.id) as done:
            assert not done.subscribed
        mine = reader.get(ex.id)
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(mine.wait, 60)
            h.drain()
            assert waiting.result(timeout=60) is Phase.SUCCESS
    finally:
        reader.close()
        admin.execute_command("ACL", "DELUSER", user)
        admin.close()
