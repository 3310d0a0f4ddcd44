"""Secrets quoted in error text never reach the record or its events."""

from __future__ import annotations

import zlib

import pytest

from plugins.core import Phase
from scheduler._runtime.redaction import MASK, Redactor
from scheduler.settings import Settings
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import finished
from tests.tasks import sample

TOKEN = "tok-8f2b1c9e77"


def test_a_secret_in_a_user_exception_is_masked(
    harness_factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("_FSEC_TEST_TOKEN", TOKEN)
    h: Harness = harness_factory()
    ex = h.client.submit(sample.leaky, {})
    h.until(finished(ex))
    assert ex.refresh().phase is Phase.PERMANENT_FAILURE
    err = ex.error()
    assert err is not None and "could not log in with token" in err.message
    stored = h.runtime.redis.get(h.runtime.keys.record(ex.id))
    assert stored is not None
    doc = zlib.decompress(stored.split(b"\n", 3)[3])
    assert TOKEN.encode() not in doc and b"could not log in" in doc  # there, but masked
    assert MASK in err.message
    assert all(TOKEN not in e.reason for e in ex.events())


def test_the_processes_secrets() -> None:
    settings = Settings(
        redis_url="redis://:hunter2-redis@db:6379/0",
        storage_options={"key": "AKIAEXAMPLEKEY", "client_kwargs": {"endpoint_url": "http://s3"}},
    )
    redact = Redactor.for_process(
        settings,
        {"_FSEC_GROUP_KEY": "group-secret-1", "API_TOKEN": "token-value-9", "HOME": "/root/x/y"},
    )
    text = "hunter2-redis AKIAEXAMPLEKEY group-secret-1 token-value-9 http://s3 /root/x/y"
    assert redact(text) == f"{MASK} {MASK} {MASK} {MASK} http://s3 /root/x/y"


def test_a_password_given_apart_from_the_url_is_masked_as_sent() -> None:
    settings = Settings(redis_url="redis://db:6379/0", redis_password="p@ss/w:rd-42")
    redact = Redactor.for_process(settings, {"HOME": "/root"})
    assert redact("auth p@ss/w:rd-42 failed") == f"auth {MASK} failed"
    # As a text quoting the URL shows it, escaped.
    assert redact("redis://:p%40ss%2Fw%3Ard-42@db:6379/0") == f"redis://:{MASK}@db:6379/0"
    in_url = Settings(redis_url="redis://:p%40ss%2Fw%3Ard-42@db:6379/0")
    redact = Redactor.for_process(in_url, {"HOME": "/root"})
    assert redact("p@ss/w:rd-42 or p%40ss%2Fw%3Ard-42") == f"{MASK} or {MASK}"
