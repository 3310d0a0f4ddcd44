"""Model-based tests: RedisResourceManager against a plain Python model."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import redis
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from plugins.core import AllocationStatus, ResourceConstraint, ResourceConstraintsSpec
from scheduler._backend import RedisResourceManager
from tests.helpers import RedisServer

TOKENS = st.sampled_from([f"tok{i}" for i in range(8)])
PROJECTS = st.sampled_from(["flyte", "flytesnacks", "p"])
DOMAINS = st.sampled_from(["dev", "development"])
# Small caps bind often; None (no cap) keeps the global quota in play.
CAPS = st.none() | st.integers(min_value=0, max_value=2) | st.integers(min_value=0, max_value=5)


class QuotaModel(RuleBasedStateMachine):
    """Tokens held, by owner, exactly as the manager should see them."""

    client: redis.Redis

    def __init__(self) -> None:
        super().__init__()
        self.client.flushall()
        self.rm = RedisResourceManager(self.client, lease=timedelta(hours=1))
        self.held: dict[str, tuple[str, str]] = {}
        self.quota = 0

    @initialize(quota=st.integers(min_value=1, max_value=6))
    def register(self, quota: int) -> None:
        self.quota = quota
        self.rm.register_resource_quota("ns", quota)

    @rule(token=TOKENS, project=PROJECTS, domain=DOMAINS, project_cap=CAPS, domain_cap=CAPS)
    def allocate(
        self, token: str, project: str, domain: str, project_cap: int | None, domain_cap: int | None
    ) -> None:
        spec = ResourceConstraintsSpec(
            None if project_cap is None else ResourceConstraint(project_cap),
            None if domain_cap is None else ResourceConstraint(domain_cap),
        )
        got = self.rm.allocate_resource("ns", token, spec, project=project, domain=domain)
        by_project = Counter(p for p, _ in self.held.values())
        by_domain = Counter(self.held.values())
        if token in self.held:
            expected = AllocationStatus.GRANTED
        elif len(self.held) >= self.quota:
            expected = AllocationStatus.EXHAUSTED
        elif (project_cap is not None and by_project[project] >= project_cap) or (
            domain_cap is not None and by_domain[(project, domain)] >= domain_cap
        ):
            expected = AllocationStatus.NAMESPACE_QUOTA_EXCEEDED
        else:
            expected = AllocationStatus.GRANTED
            self.held[token] = (project, domain)
        assert got is expected

    @rule(token=TOKENS)
    def release(self, token: str) -> None:
        assert self.rm.release_resource("ns", token) is (token in self.held)
        self.held.pop(token, None)

    @rule(tokens=st.lists(TOKENS, max_size=4, unique=True))
    def renew(self, tokens: list[str]) -> None:
        assert self.rm.renew("ns", *tokens) == sum(t in self.held for t in tokens)

    @invariant()
    def holders_match(self) -> None:
        if self.quota:
            assert self.rm.holders("ns") == sorted(self.held)
            assert self.rm.metrics("ns").held == len(self.held)


def test_resource_manager_matches_the_model(redis_server: RedisServer) -> None:
    client = redis_server.client()
    QuotaModel.client = client
    try:
        run_state_machine_as_test(
            QuotaModel,
            settings=settings(
                max_examples=200, stateful_step_count=40, deadline=None, database=None
            ),
        )
    finally:
        client.close()
