"""Roles, grants and the access check: per project, per domain, ``*`` for all."""

from __future__ import annotations

import pytest

from plugins.errors import AccessDeniedError, ConfigError, FlyteCeleryError
from scheduler._model import ANY, Caller, Grant, Role, parse_grants
from scheduler.console.auth import Users, parse_user_grants


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
        ("viewer@ml/", "is not role@project"),
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


def test_console_users_get_their_grants_or_every_project_without_any() -> None:
    grants = parse_user_grants("alice=submitter@ml viewer@web; ops=admin@*")
    assert grants == {
        "alice": (Grant(Role.SUBMITTER, "ml"), Grant(Role.VIEWER, "web")),
        "ops": (Grant(Role.ADMIN, ANY),),
    }
    users = Users({"alice": "a", "bob": "b"}, grants)
    assert users.caller("alice").may(Role.SUBMITTER, "ml", "development")
    assert not users.caller("bob").may(Role.VIEWER, "ml", "development")  # left out: nothing
    assert Users({"bob": "b"}).caller("bob").may(Role.ADMIN, "any", "thing")  # one team
    assert parse_user_grants("") is None and parse_user_grants(None) is None
    with pytest.raises(
        ConfigError, match="FLYTE_CELERY_CONSOLE_GRANTS: 'alice' is not name=grants"
    ):
        parse_user_grants("alice")
    with pytest.raises(ConfigError, match="FLYTE_CELERY_CONSOLE_GRANTS: alice: unknown role"):
        parse_user_grants("alice=owner@ml")


def test_a_listing_is_narrowed_to_what_the_caller_may_see() -> None:
    one = Caller("one", parse_grants(["submitter@ml/dev"]))
    assert one.narrow(None, None) == ("ml", "dev")
    two = Caller("two", parse_grants(["viewer@ml", "viewer@web"]))
    assert two.narrow("web", None) == ("web", None)
    with pytest.raises(FlyteCeleryError, match=r"say which project .*ml, web") as asked:
        two.narrow(None, None)
    assert asked.value.code == "InvalidQuery"
    with pytest.raises(AccessDeniedError, match="project 'other'"):
        two.narrow("other", None)
    with pytest.raises(AccessDeniedError, match="domain 'prod'"):
        one.narrow("ml", "prod")
    everyone = Caller("root", parse_grants(["viewer@*"]))
    assert everyone.narrow(None, None) == (None, None) and everyone.sees_everything()
    assert not two.sees_everything()
