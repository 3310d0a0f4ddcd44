"""The worker's outage log: a lost broker says so once, in plain words, not in tracebacks."""

from __future__ import annotations

import logging
import sys

from worker.broker import OutageLog


def test_an_ack_after_a_lost_connection_is_one_plain_warning() -> None:
    # What kombu logs when a job that ran on across a lost connection acks on a dead one.
    try:
        raise ConnectionError("the broker connection was closed")
    except ConnectionError as exc:
        record = logging.LogRecord(
            "celery.worker.request", logging.CRITICAL, __file__, 1,
            "Couldn't ack %r, reason:%r", ("tag-1", exc), sys.exc_info(),
        )  # fmt: skip
    assert OutageLog().filter(record)
    assert record.levelno == logging.WARNING and record.levelname == "WARNING"
    assert record.exc_info is None
    message = record.getMessage()
    assert message.startswith("Couldn't ack 'tag-1', reason:ConnectionError(")
    assert "comes back after the visibility timeout and does nothing" in message
