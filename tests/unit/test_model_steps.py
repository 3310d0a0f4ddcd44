"""scheduler._model.steps: steps, claims, teardown and limiter kinds are types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler._model import Claim, LimiterKind, Step, TeardownKind


def test_each_step_names_its_celery_job_and_its_limiter() -> None:
    assert {s.job_name for s in Step} == {
        "flyte_celery.create",
        "flyte_celery.do",
        "flyte_celery.get",
        "flyte_celery.delete",
        "flyte_celery.handle",
    }
    assert Step.GET.limiter is LimiterKind.READ
    assert {Step.CREATE.limiter, Step.DELETE.limiter, Step.DO.limiter} == {LimiterKind.WRITE}
    assert Step.HANDLE.limiter is None


@given(st.sampled_from(list(Step)), st.integers(min_value=0, max_value=10**6))
def test_a_claim_round_trips_through_its_stored_text(step: Step, attempt: int) -> None:
    claim = Claim(step, attempt)
    assert Claim.parse(str(claim)) == claim
    assert str(claim) == f"{step.value}:{attempt}"


def test_claims_carry_their_attempt_as_data() -> None:
    claim = Claim.parse("create:3")
    assert claim.step is Step.CREATE
    assert claim.attempt == 3
    assert claim != Claim(Step.CREATE, 2)
    assert claim != Claim(Step.GET, 3)


@pytest.mark.parametrize("text", ["", "create", "create:", "launch:1", "create:x", ":1"])
def test_a_malformed_claim_names_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="malformed claim"):
        Claim.parse(text)


def test_teardown_kinds_keep_their_stored_spelling() -> None:
    assert TeardownKind("abort") is TeardownKind.ABORT
    assert TeardownKind("timeout") is TeardownKind.TIMEOUT
