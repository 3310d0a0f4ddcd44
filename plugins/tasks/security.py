"""Secrets a task declares (flytekit's ``Secret``): the only ones its run may read.

A task run in its own process (the default) sees no secret it did not declare;
each declared one is looked up by the worker and handed to the run as the
environment variable ``_FSEC_<GROUP>_<KEY>``, which
``current_context().secrets.get("group/key")`` reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flyteidl.core import security_pb2

__all__ = ["Secret", "security_context"]


@dataclass(frozen=True)
class Secret:
    """A secret a task needs.

    Attributes:
        key: The secret's name.
        group: Its group; empty for an ungrouped secret.
    """

    key: str
    group: str = ""

    def __post_init__(self) -> None:
        if not self.key or "/" in self.key:
            raise ValueError(f"secret key {self.key!r} must be non-empty and without '/'")

    def to_flyte_idl(self) -> security_pb2.Secret:
        """The flyteidl ``Secret`` (mounted as an environment variable)."""
        return security_pb2.Secret(
            group=self.group, key=self.key, mount_requirement=security_pb2.Secret.ENV_VAR
        )


def security_context(secrets: Iterable[Secret]) -> security_pb2.SecurityContext | None:
    """A ``SecurityContext`` declaring ``secrets``; ``None`` when there are none."""
    declared = [s.to_flyte_idl() for s in secrets]
    return security_pb2.SecurityContext(secrets=declared) if declared else None
