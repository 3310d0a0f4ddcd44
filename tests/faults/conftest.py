"""The fault tests reuse the integration tier's HTTP job service and ledger."""

from __future__ import annotations

from tests.integration.conftest import job_service, ledger

__all__ = ["job_service", "ledger"]
