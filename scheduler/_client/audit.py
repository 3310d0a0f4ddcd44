"""Who is acting: the name the audit trail records on submissions, aborts and signals.

The API server acts for many callers through one client, so the name is the call's, not
the client's: :func:`acting_as` sets it for the calls made inside it (in this thread or
task). The console sets its signed-in user, the API its token's name, the CLI the OS
user. A call made outside any records no one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import ParamSpec, TypeVar

__all__ = ["acting_as", "current_actor", "run_as"]

P = ParamSpec("P")
R = TypeVar("R")

_ACTOR: ContextVar[str | None] = ContextVar("flyte_celery_actor", default=None)


def current_actor() -> str | None:
    """Who the calls made now act for, if anyone said."""
    return _ACTOR.get()


@contextlib.contextmanager
def acting_as(name: str | None) -> Iterator[None]:
    """Record ``name`` as who acts, for the calls made inside the block."""
    reset = _ACTOR.set(name or None)
    try:
        yield
    finally:
        _ACTOR.reset(reset)


def run_as(name: str | None, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call ``fn`` acting as ``name`` (for work handed to a thread pool, which has no context)."""
    with acting_as(name):
        return fn(*args, **kwargs)
