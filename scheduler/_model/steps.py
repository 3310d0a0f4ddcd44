"""Steps, claims, teardown kinds and limiter kinds: the scheduler's vocabulary, as types.

A *step* is one plugin call a worker makes for an execution (Create, Get, Delete,
Do, or a core plugin's Handle). Before a job is published the scheduler writes a
:class:`Claim` on the record: the step and the attempt it serves. A worker acts
only while the record still carries that claim, so a redelivered or duplicate
message finds it gone and does nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Claim", "LimiterKind", "Step", "TeardownKind"]


class LimiterKind(enum.StrEnum):
    """Which of a plugin's two global rate limiters a call goes through."""

    READ = "read"
    """Get (Flyte's ``ReadRateLimiter``)."""
    WRITE = "write"
    """Create, Delete and Do (Flyte's ``WriteRateLimiter``)."""


class Step(enum.StrEnum):
    """One kind of worker job."""

    CREATE = "create"
    """Start an async plugin's remote job."""
    DO = "do"
    """A sync plugin's one call."""
    GET = "get"
    """Poll an async plugin's remote job (published in batches)."""
    DELETE = "delete"
    """Tear an attempt down: Delete (async), or abort and finalize (core)."""
    HANDLE = "handle"
    """One round of a core plugin."""

    @property
    def job_name(self) -> str:
        """The Celery task name of the step's job: ``flyte_celery.<step>``."""
        return f"flyte_celery.{self.value}"

    @property
    def limiter(self) -> LimiterKind | None:
        """The rate limiter the step's plugin call goes through, if any."""
        if self is Step.GET:
            return LimiterKind.READ
        if self in (Step.CREATE, Step.DELETE, Step.DO):
            return LimiterKind.WRITE
        return None  # a core plugin's rounds are paced by its resync interval


@dataclass(frozen=True, order=True)
class Claim:
    """A step claimed for one attempt of an execution.

    Attributes:
        step: The step.
        attempt: The attempt it serves, from 0.
    """

    step: Step
    attempt: int

    def __str__(self) -> str:
        return f"{self.step.value}:{self.attempt}"

    @classmethod
    def parse(cls, text: str) -> Claim:
        """Read a claim as :meth:`__str__` writes it (``"create:3"``), for stored records.

        Raises:
            ValueError: ``text`` is not ``<step>:<attempt>``.
        """
        step, sep, attempt = text.rpartition(":")
        try:
            if not sep:
                raise ValueError("no ':'")
            return cls(Step(step), int(attempt))
        except ValueError as exc:
            raise ValueError(f"malformed claim {text!r}: expected <step>:<attempt>") from exc


class TeardownKind(enum.StrEnum):
    """Why an attempt is being torn down."""

    ABORT = "abort"
    """The user aborted the execution: it ends ABORTED."""
    TIMEOUT = "timeout"
    """The attempt outlived its timeout: it fails with a retryable ``TimedOut``."""
