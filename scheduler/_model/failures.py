"""The one mapping from an exception to the PhaseInfo that ends an attempt.

Whatever raises (a plugin, its loader, storage, the scheduler itself), the
execution must end in a failure phase whose error names what went wrong, and
every other execution must go on. Where it raised decides the error's code, its
kind (USER or SYSTEM) and whether it is retried; a project error that knows its
own code (a plugin that failed to load) keeps it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from plugins.core import PhaseInfo
from plugins.errors import PluginNotFoundError, RemoteCallError

__all__ = ["FailureSite", "describe", "failure_info"]


def describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for failure messages."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class _Rule:
    code: str
    system: bool
    retryable: bool


class FailureSite(enum.Enum):
    """Where an exception ended an attempt."""

    PLUGIN_CALL = enum.auto()
    """A plugin's Create or Do raised: Flyte's retryable ``TaskFailedWithError``."""
    RESOLVE = enum.auto()
    """The scheduler could not resolve the task type to a loaded plugin."""
    PLUGIN_LOAD = enum.auto()
    """A worker could not load the plugin its job names; retrying cannot help."""
    RESOURCE_REQUIREMENTS = enum.auto()
    """The plugin's ``resource_requirements`` raised before a token was taken."""
    OUTPUT_COMMIT = enum.auto()
    """Validating or committing a successful attempt's outputs failed."""
    SCHEDULER = enum.auto()
    """The scheduler failed to advance the execution."""


# Kept apart from the enum's values: two sites with the same rule must stay two sites.
_RULES: dict[FailureSite, _Rule] = {
    FailureSite.PLUGIN_CALL: _Rule("TaskFailedWithError", system=False, retryable=True),
    FailureSite.RESOLVE: _Rule("PluginLoadFailed", system=True, retryable=False),
    FailureSite.PLUGIN_LOAD: _Rule("PluginLoadFailed", system=True, retryable=False),
    FailureSite.RESOURCE_REQUIREMENTS: _Rule(
        "ResourceRequirementsFailed", system=True, retryable=True
    ),
    FailureSite.OUTPUT_COMMIT: _Rule("OutputCommitFailed", system=True, retryable=True),
    FailureSite.SCHEDULER: _Rule("SchedulerError", system=True, retryable=True),
}


def failure_info(exc: BaseException, site: FailureSite) -> PhaseInfo:
    """The failure PhaseInfo for ``exc`` raised at ``site``.

    An unknown task type met when resolving is the user's error and final, with
    the registry's message. A plugin that fails to load keeps its error's code.
    Everything else takes the site's code, kind and retryability, with
    ``Type: message``.
    """
    if isinstance(exc, RemoteCallError):
        # The plugin classified its remote failure itself (a connector unavailable...).
        rule = _Rule(exc.code, system=exc.system, retryable=exc.retryable)
        return _phase_info(rule, rule.code, exc.message)
    rule = _RULES[site]
    loading = site in (FailureSite.RESOLVE, FailureSite.PLUGIN_LOAD)
    if site is FailureSite.RESOLVE and isinstance(exc, PluginNotFoundError):
        return PhaseInfo.failure(exc.code, exc.message)
    code = rule.code
    if loading:
        # A load error names itself (PluginLoadFailed, UnknownTaskType...): keep its code.
        own = getattr(exc, "code", None)
        code = own if isinstance(own, str) and own else code
    return _phase_info(rule, code, describe(exc))


def _phase_info(rule: _Rule, code: str, message: str) -> PhaseInfo:
    if rule.system:
        if rule.retryable:
            return PhaseInfo.system_retryable_failure(code, message)
        return PhaseInfo.system_failure(code, message)
    if rule.retryable:
        return PhaseInfo.retryable_failure(code, message)
    return PhaseInfo.failure(code, message)
