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


def test_every_redis_client_gets_the_timeouts_the_settings_choose(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from scheduler._runtime import Runtime

    monkeypatch.setenv("FLYTE_CELERY_REDIS_SOCKET_TIMEOUT", "7s")
    monkeypatch.setenv("FLYTE_CELERY_REDIS_HEALTH_CHECK_INTERVAL", "11")
    settings = Settings.load()
    assert settings.redis_options() == {
        "socket_timeout": 7.0,
        "socket_connect_timeout": 5.0,
        "health_check_interval": 11.0,
        "socket_keepalive": True,
    }
    kwargs = Runtime(settings).redis.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["health_check_interval"]) == (7.0, 11.0)


def test_a_socket_timeout_the_scheduler_would_block_past_is_refused_naming_both() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load(redis_socket_timeout=1, tick_interval=2)
    message = str(refused.value)
    assert "FLYTE_CELERY_REDIS_SOCKET_TIMEOUT (1s)" in message
    assert "FLYTE_CELERY_TICK_INTERVAL (2s)" in message
