"""Roles, grants and the access check: per project, per domain, ``*`` for all."""

from __future__ import annotations

import pytest

from plugins.errors import AccessDeniedError, ConfigError
from scheduler._model import ANY, Caller, Grant, Role, parse_grants


def test_grants_read_as_they_are_written() -> None:
    assert Grant.parse("submitter@ml") == Grant(Role.SUBMITTER, "ml", ANY)
    assert Grant.parse(" viewer@ml/development ") == Grant(Role.VIEWER, "ml", "development")
    assert Grant.parse("admin@*") == Grant(Role.ADMIN, ANY, ANY)
    for grant in ("submitter@ml", "viewer@ml/development", "admin@*"):
        assert str(Grant.parse(grant)) == grant


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("submitter", "is not role@project"),
        ("submitter@", "is not role@project"),
        ("viewer@a/b/c", "is not role@project"),
        ("owner@ml", "unknown role 'owner' (roles: viewer, submitter, admin)"),
    ],
)
def test_a_malformed_grant_is_named(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=f"{says}".replace("(", r"\(").replace(")", r"\)")):
        Grant.parse(text)


def test_a_role_covers_the_roles_below_it_on_its_projects_and_domains_only() -> None:
    caller = Caller("ci", parse_grants(["submitter@ml/dev", "viewer@web", ""]))
    assert caller.may(Role.VIEWER, "ml", "dev") and caller.may(Role.SUBMITTER, "ml", "dev")
    assert not caller.may(Role.ADMIN, "ml", "dev")
    assert not caller.may(Role.VIEWER, "ml", "prod")
    assert caller.may(Role.VIEWER, "web", "prod") and not caller.may(Role.SUBMITTER, "web", "prod")
    assert not caller.may(Role.VIEWER, "other", "dev")
    assert caller.visible_projects() == {"ml", "web"}
    assert Caller("root", parse_grants(["admin@*"])).visible_projects() is None
    with pytest.raises(AccessDeniedError) as refused:
        caller.require(Role.SUBMITTER, "web", "prod")
    assert "project 'web', domain 'prod'" in str(refused.value)
    assert "needs the submitter role" in str(refused.value)
