"""PluginConfig: Flyte's defaults, camelCase keys, durations and validation wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from plugins.errors import PluginConfigError, PluginStateError
from plugins.webapi import (
    DEFAULT_PLUGIN_CONFIG,
    CachingConfig,
    PluginConfig,
    RateLimiterConfig,
    parse_duration,
)
from tests.strategies import json_values


def test_defaults_are_flytes() -> None:
    cfg = DEFAULT_PLUGIN_CONFIG
    assert cfg.resource_quotas == {}
    assert (cfg.read_rate_limiter.qps, cfg.read_rate_limiter.burst) == (30, 300)
    assert (cfg.write_rate_limiter.qps, cfg.write_rate_limiter.burst) == (20, 200)
    assert cfg.caching.size == 100_000
    assert cfg.caching.resync_interval == timedelta(seconds=30)
    assert cfg.caching.workers == 10
    assert cfg.caching.max_system_failures == 5
    assert cfg.resource_meta is None


def test_flyte_yaml_can_be_pasted() -> None:
    text = """
    resourceQuotas:
      default: 10
      us-east: 4
    readRateLimiter:
      qps: 15
      burst: 150
    writeRateLimiter:
      qps: 5
      burst: 50
    caching:
      size: 500000
      resyncInterval: 1m30s
      workers: 20
      maxSystemFailures: 3
    """
    cfg = PluginConfig.model_validate(yaml.safe_load(text))
    assert cfg.resource_quotas == {"default": 10, "us-east": 4}
    assert cfg.read_rate_limiter == RateLimiterConfig(qps=15, burst=150)
    assert cfg.write_rate_limiter == RateLimiterConfig(qps=5, burst=50)
    assert cfg.caching == CachingConfig(
        size=500000, resync_interval=timedelta(seconds=90), workers=20, max_system_failures=3
    )


def test_snake_case_keys_work_too() -> None:
    cfg = PluginConfig.model_validate(
        {"read_rate_limiter": {"qps": 2, "burst": 5}, "caching": {"resync_interval": 10}}
    )
    assert cfg.read_rate_limiter.qps == 2
    assert cfg.caching.resync_interval == timedelta(seconds=10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("1m30s", timedelta(seconds=90)),
        ("1h", timedelta(hours=1)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("2h45m10s", timedelta(hours=2, minutes=45, seconds=10)),
        ("0", timedelta(0)),
        (12, timedelta(seconds=12)),
        ("12", timedelta(seconds=12)),
        ("0.5", timedelta(milliseconds=500)),
        (2.5, timedelta(seconds=2.5)),
    ],
)
def test_durations(text: object, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_iso_durations_and_timedeltas_pass_through() -> None:
    assert CachingConfig(resync_interval="PT45S").resync_interval == timedelta(seconds=45)  # type: ignore[arg-type]
    assert CachingConfig(resync_interval=timedelta(minutes=2)).resync_interval == timedelta(
        minutes=2
    )


def test_bad_duration_names_the_field() -> None:
    with pytest.raises(PluginConfigError) as info:
        PluginConfig.model_validate({"caching": {"resyncInterval": "soon"}})
    assert "caching.resyncInterval" in str(info.value) and "'soon'" in str(info.value)


def test_in_range_is_valid() -> None:
    cfg = PluginConfig(
        read_rate_limiter=RateLimiterConfig(qps=10, burst=100),
        write_rate_limiter=RateLimiterConfig(qps=10, burst=100),
        caching=CachingConfig(size=10, resync_interval=timedelta(seconds=10), workers=10),
    )
    assert cfg.violations() == []
    cfg.validate_ranges()


def test_below_min_reports_seven_lines_in_flytes_order_and_wording() -> None:
    with pytest.raises(PluginConfigError) as info:
        PluginConfig(
            read_rate_limiter=RateLimiterConfig(qps=0, burst=0),
            write_rate_limiter=RateLimiterConfig(qps=0, burst=0),
            caching=CachingConfig(size=0, resync_interval=timedelta(0), workers=0),
        )
    assert str(info.value) == (
        "\ncache size is expected to be between 10 and 500000. Provided value is 0"
        "\nworkers count is expected to be between 1 and 10000. Provided value is 0"
        "\nresync interval is expected to be between 5 and 3600. Provided value is 0"
        "\nread burst is expected to be between 5 and 10000. Provided value is 0"
        "\nread qps is expected to be between 1 and 100000. Provided value is 0"
        "\nwrite burst is expected to be between 5 and 10000. Provided value is 0"
        "\nwrite qps is expected to be between 1 and 100000. Provided value is 0"
    )
    assert isinstance(info.value, ValueError)


def test_above_max_reports_five_lines() -> None:
    with pytest.raises(PluginConfigError) as info:
        PluginConfig(
            read_rate_limiter=RateLimiterConfig(qps=1000, burst=1_000_000),
            write_rate_limiter=RateLimiterConfig(qps=1000, burst=1_000_000),
            caching=CachingConfig(
                size=1_000_000_000, resync_interval=timedelta(hours=10000), workers=1_000_000_000
            ),
        )
    assert str(info.value) == (
        "\ncache size is expected to be between 10 and 500000. Provided value is 1000000000"
        "\nworkers count is expected to be between 1 and 10000. Provided value is 1000000000"
        "\nresync interval is expected to be between 5 and 3600. Provided value is 3.6e+07"
        "\nread burst is expected to be between 5 and 10000. Provided value is 1000000"
        "\nwrite burst is expected to be between 5 and 10000. Provided value is 1000000"
    )


@pytest.mark.parametrize("quota", [0, -1, 1001])
def test_quota_must_be_in_zero_to_thousand(quota: int) -> None:
    with pytest.raises(PluginConfigError, match=r"\(0, 1000\]") as info:
        PluginConfig(resource_quotas={"default": quota})
    assert "'default'" in str(info.value)


def test_quota_bounds_are_inclusive_of_1000() -> None:
    assert PluginConfig(resource_quotas={"a": 1, "b": 1000}).resource_quotas == {"a": 1, "b": 1000}


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(PluginConfigError, match="readRateLimitr"):
        PluginConfig.model_validate({"readRateLimitr": {"qps": 1}})


def test_configs_are_immutable() -> None:
    with pytest.raises(ValueError, match="frozen"):
        DEFAULT_PLUGIN_CONFIG.caching.size = 5  # type: ignore[misc]


# -- resource meta encoding ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobHandle:
    job_id: str
    region: str
    attempt: int


class QueryHandle(BaseModel):
    query_id: str
    tags: list[str] = []


@given(st.builds(JobHandle, st.text(), st.text(), st.integers()))
def test_dataclass_meta_round_trips(meta: JobHandle) -> None:
    cfg = PluginConfig(resource_meta=JobHandle)
    assert cfg.decode_resource_meta(cfg.encode_resource_meta(meta)) == meta


@given(st.builds(QueryHandle, query_id=st.text(), tags=st.lists(st.text())))
def test_pydantic_meta_round_trips(meta: QueryHandle) -> None:
    cfg = PluginConfig(resource_meta=QueryHandle)
    assert cfg.decode_resource_meta(cfg.encode_resource_meta(meta)) == meta


@given(json_values)
def test_plain_json_meta_round_trips(meta: object) -> None:
    assert (
        DEFAULT_PLUGIN_CONFIG.decode_resource_meta(DEFAULT_PLUGIN_CONFIG.encode_resource_meta(meta))
        == meta
    )


def test_meta_errors_are_clear() -> None:
    with pytest.raises(TypeError, match="object"):
        DEFAULT_PLUGIN_CONFIG.encode_resource_meta(object())
    with pytest.raises(PluginStateError, match="JobHandle"):
        PluginConfig(resource_meta=JobHandle).decode_resource_meta('{"job_id": 1}')


def test_poll_backoff_waits_as_long_as_the_job_has_run_up_to_the_resync() -> None:
    caching = CachingConfig.model_validate({"resyncInterval": "30s", "pollBackoff": "1s"})
    waits = [caching.poll_interval(timedelta(seconds=s)) for s in (-1, 0, 0.5, 1, 2, 16, 29, 90)]
    assert [w.total_seconds() for w in waits] == [1, 1, 1, 1, 2, 16, 29, 30]
    flyte = CachingConfig(poll_backoff=timedelta(0))
    assert flyte.poll_interval(timedelta(0)) == flyte.resync_interval == timedelta(seconds=30)
    assert DEFAULT_PLUGIN_CONFIG.caching.poll_backoff == timedelta(seconds=1)


def test_poll_backoff_out_of_range_is_named() -> None:
    with pytest.raises(
        PluginConfigError, match="poll backoff is expected to be between 0 and 3600"
    ):
        PluginConfig.model_validate({"caching": {"pollBackoff": "-1s"}})
