"""Routing at launch: default plugins, run-time claims, the registry, what live processes serve."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis

from plugins.core import PhaseInfo, PluginRegistry
from plugins.errors import PluginNotFoundError
from plugins.webapi import PluginConfig, PluginEntry, SyncPlugin, TaskExecutionContext
from scheduler._backend import Keys, ServedTypes
from scheduler._runtime.plugins import PluginSet
from scheduler.clock import ManualClock


class Plain(SyncPlugin):
    def do(self, ctx: TaskExecutionContext) -> PhaseInfo:
        return PhaseInfo.success()


class Router(Plain):
    """Claims its types at run time, as connector-service does (None: not known yet)."""

    def __init__(self, claimed: set[str] | None) -> None:
        self.claimed = claimed

    def get_config(self) -> PluginConfig:
        return PluginConfig(resource_quotas={"default": 5})  # as connector-service has

    def claimed_task_types(self, wait: timedelta = timedelta(0)) -> frozenset[str] | None:
        return None if self.claimed is None else frozenset(self.claimed)


def plugin_set(claimed: set[str] | None, *, default: bool = False) -> PluginSet:
    registry = PluginRegistry()
    registry.register(PluginEntry("in-process", ["webhook", "sensor"], Plain))
    if default:
        registry.register(PluginEntry("catch-all", [], Plain, is_default=True))
    registry.register(
        PluginEntry("preferring", ["bigquery"], Plain, default_for_task_types=["bigquery"])
    )
    registry.register(PluginEntry("router", [], lambda: Router(claimed)))
    return PluginSet(registry=registry)


def test_a_claim_beats_a_plugin_that_merely_registers_the_type() -> None:
    plugins = plugin_set({"webhook", "bigquery", "countdown"})
    assert [getattr(plugins.route(t), "id", None) for t in ("webhook", "countdown", "sensor")] == [
        "router",
        "router",
        "in-process",
    ]


def test_default_for_task_types_beats_a_claim() -> None:
    # Propeller: a type another plugin is the default for is not routed to a connector.
    assert getattr(plugin_set({"bigquery"}).route("bigquery"), "id", None) == "preferring"


def test_a_type_served_elsewhere_routes_to_its_plugin_and_otherwise_is_unknown() -> None:
    plugins = plugin_set(set())
    served = {"from_a_worker": "in-process", "odd": "not-installed-here"}
    routed = plugins.route("from_a_worker", served.get)
    assert routed is not None and routed.id == "in-process"
    with pytest.raises(PluginNotFoundError, match="'nowhere'"):
        plugins.route("nowhere", served.get)
    with pytest.raises(PluginNotFoundError, match="plugin 'not-installed-here', which this"):
        plugins.route("odd", served.get)


def test_a_served_type_beats_the_default_plugin_which_takes_the_rest() -> None:
    plugins = plugin_set(set(), default=True)
    served = {"from_a_worker": "in-process"}
    assert getattr(plugins.route("from_a_worker", served.get), "id", None) == "in-process"
    assert getattr(plugins.route("anything", served.get), "id", None) == "catch-all"


def test_nothing_is_routed_while_a_router_does_not_know_its_types_yet() -> None:
    # Its first discovery is running: a type it may claim must not go elsewhere meanwhile.
    plugins = plugin_set(None)
    assert plugins.route("webhook") is None
    assert plugins.routes(claims=True) == {"bigquery": "preferring"}  # its default wins anyway
    assert plugins.routes(claims=False)["webhook"] == "in-process"


def test_a_router_that_claims_nothing_holds_no_quota() -> None:
    # A connector service with no deployment: its namespace must not show up anywhere.
    assert plugin_set(set()).quotas() == {}
    assert "router:default" in plugin_set({"countdown"}).quotas()
    assert "router:default" in plugin_set(None).quotas()  # not known yet: kept


def test_routes_published_with_and_without_claims() -> None:
    plugins = plugin_set({"webhook", "countdown"})
    assert plugins.routes(claims=False) == {
        "bigquery": "preferring",
        "sensor": "in-process",
        "webhook": "in-process",
    }
    assert plugins.routes(claims=True) == {
        "bigquery": "preferring",
        "countdown": "router",
        "sensor": "in-process",
        "webhook": "router",
    }


def test_served_types_expire_unless_published_again(redis_client: redis.Redis) -> None:
    clock = ManualClock()
    served = ServedTypes(redis_client, Keys("t-served"), clock)
    served.publish(
        {"countdown": "connector-service", "bq": "flytekit-connectors"}, timedelta(seconds=60)
    )
    assert served.lookup("countdown") == "connector-service"
    assert served.all() == {"countdown": "connector-service", "bq": "flytekit-connectors"}
    clock.advance(timedelta(seconds=61))
    assert served.lookup("countdown") is None
    served.publish({"bq": "flytekit-connectors"}, timedelta(seconds=60))
    assert served.all() == {"bq": "flytekit-connectors"}
    # The expired field is gone from Redis, not just hidden.
    assert redis_client.hkeys(Keys("t-served").served) == [b"bq"]
