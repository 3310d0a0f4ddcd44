"""scheduler.settings: the RetryPolicy is derived from Settings, in one place."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plugins.errors import ConfigError
from scheduler import Settings
from scheduler.settings import RetryPolicy


def test_the_retry_policy_comes_from_the_settings() -> None:
    settings = Settings(
        max_system_retries=5,
        system_retry_backoff=timedelta(seconds=2),
        system_retry_backoff_max=timedelta(seconds=10),
    )
    assert settings.retry_policy == RetryPolicy(5, timedelta(seconds=2), timedelta(seconds=10))


def test_system_retry_backoff_doubles_up_to_its_ceiling() -> None:
    policy = RetryPolicy(3, timedelta(seconds=1), timedelta(seconds=5))
    delays = [policy.system_delay(n).total_seconds() for n in range(1, 6)]
    assert delays == [1, 2, 4, 5, 5]


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_CELERY_TICK_INTERVAL", "-3s")
    with pytest.raises(ConfigError, match="FLYTE_CELERY_TICK_INTERVAL"):
        Settings.load()


@pytest.mark.parametrize("spelling", ["CERT_REQUIRED", "required", "Cert_Required"])
def test_both_spellings_of_the_certificate_option_are_accepted(spelling: str) -> None:
    url = f"rediss://:pw@redis.example:6380/0?ssl_cert_reqs={spelling}&ssl_ca_certs=/ca.pem"
    settings = Settings(redis_url=url, broker_url=url)
    expected = "rediss://:pw@redis.example:6380/0?ssl_cert_reqs=required&ssl_ca_certs=%2Fca.pem"
    assert settings.redis_url == expected
    assert settings.broker == expected
    import redis

    pool = redis.ConnectionPool.from_url(settings.redis_url)  # redis-py reads it as written
    assert pool.connection_kwargs["ssl_cert_reqs"] == "required"


def test_a_bad_certificate_option_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_CELERY_REDIS_URL", "rediss://h:6380/0?ssl_cert_reqs=maybe")
    with pytest.raises(ConfigError, match=r"FLYTE_CELERY_REDIS_URL.*ssl_cert_reqs must be"):
        Settings.load()


def test_urls_in_messages_never_show_a_password() -> None:
    from plugins.errors import ConfigError
    from scheduler.settings import Settings, masked_url

    assert masked_url("redis://:p@ss@h:6379/0") == "redis://:***@h:6379/0"
    assert masked_url("amqp://guest:guest@h:5672/v") == "amqp://guest:***@h:5672/v"
    assert masked_url("rediss://h/0?password=abc&ssl=1") == "rediss://h/0?password=***&ssl=1"
    assert masked_url("redis://h:6379/0") == "redis://h:6379/0"
    with pytest.raises(ConfigError) as caught:
        Settings.load(redis_url="rediss://:s3cret@h:6379/0?ssl_cert_reqs=bogus")
    assert "s3cret" not in str(caught.value)
