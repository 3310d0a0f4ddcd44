"""Redis ACL roles: the least each kind of process needs, as ``ACL SETUSER`` rules.

Redis is the API: whoever can write its keys can submit, abort or rewrite any
execution. A deployment restricts clients with one Redis user per role:

- ``service``: the scheduler (beat) and the workers; every key and channel of their
  database (the broker's queues too, when Redis is the broker);
- ``submitter``: submits, lists, signals and aborts; the execution store (its keys
  share the ``{prefix}`` hash tag), the scheduler's wake-up list and (to read) the
  task types live processes serve, with the
  scripting commands the store's compare-and-set needs; no quota, limiter, lease or
  broker key;
- ``viewer``: reads executions and their events, nothing else.
"""

from __future__ import annotations

import enum

from scheduler._backend.indexes import COUNTS
from scheduler._backend.keys import Keys
from scheduler._backend.shards import ShardMap

__all__ = ["AclRole", "acl_rules", "setuser_command"]


class AclRole(enum.Enum):
    """A kind of Redis user."""

    SERVICE = "service"
    SUBMITTER = "submitter"
    VIEWER = "viewer"


def _store_rules(role: AclRole, keys: Keys) -> list[str]:
    """One shard's store, as ``role`` may reach it."""
    # Execution.wait subscribes to an execution's done message (it polls without).
    done = f"&{keys.tag}:done:*"
    if role is AclRole.SUBMITTER:
        return [f"~{keys.tag}:*", f"~{keys.wake}", done]
    return [
        f"~{keys.tag}:exec:*",
        f"~{keys.tag}:events:*",
        f"~{keys.index('all')}",
        f"~{keys.index(COUNTS)}",  # executions by phase: the console's summary, the metrics
        done,
    ]


def acl_rules(role: AclRole, shards: ShardMap) -> list[str]:
    """The ACL rules of ``role`` for the deployment whose shards' key names are ``shards``."""
    if role is AclRole.SERVICE:
        return ["~*", "&*", "+@all"]
    stores = [rule for keys in shards.keys for rule in _store_rules(role, keys)]
    if role is AclRole.SUBMITTER:
        commands = ["+@read", "+@write", "+@scripting", "+@connection", "-@dangerous"]
        # The served-types hash, read only: how submit learns of types workers serve.
        stores.append(f"%R~{shards.keys[0].served}")
    else:
        commands = ["+@read", "+@connection", "-@dangerous"]
    return [*stores, *commands, "+subscribe", "+unsubscribe"]


def setuser_command(role: AclRole, shards: ShardMap, user: str, password: str) -> list[str]:
    """``ACL SETUSER`` arguments that make ``user`` (with ``password``) a ``role``."""
    return ["ACL", "SETUSER", user, "reset", "on", f">{password}", *acl_rules(role, shards)]
