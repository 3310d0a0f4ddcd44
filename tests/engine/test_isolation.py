"""What lives only in Redis comes back, and one broken plugin breaks only its own executions."""

from __future__ import annotations

from pathlib import Path

from plugins.core import Phase
from tests.engine.conftest import EngineHarness as Harness
from tests.engine.conftest import ints, template


def test_quotas_are_registered_again_when_redis_comes_back_empty(harness_factory) -> None:
    h: Harness = harness_factory(quota=1)
    first = h.client.submit(template("remote"), ints(x=1))
    h.drain()
    assert first.refresh().phase is Phase.RUNNING
    # A restart without persistence, or a flush: executions, tokens and quotas are gone.
    h.runtime.redis.flushdb()
    second = h.client.submit(template("remote"), ints(x=2))
    h.drain()
    assert second.refresh().phase is Phase.RUNNING, second.record.reason
    assert h.runtime.quotas.quota("remote:default") == 1


def test_a_misconfigured_plugin_fails_only_its_own_executions(
    harness_factory, tmp_path: Path
) -> None:
    overrides = tmp_path / "plugins.yaml"
    overrides.write_text("remote:\n  resourceQuotas: {default: 0}\n")
    h: Harness = harness_factory(plugin_config=overrides)
    broken = h.client.submit(template("remote"), ints(x=1))
    fine = h.client.submit(template("echo"), ints(x=2))
    h.drain()
    assert fine.refresh().phase is Phase.SUCCESS
    assert broken.refresh().phase is Phase.PERMANENT_FAILURE
    err = broken.error()
    assert err is not None
    assert err.code == "PluginLoadFailed"
    assert str(overrides) in err.message and "remote" in err.message
