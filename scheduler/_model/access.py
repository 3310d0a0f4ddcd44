"""Who may do what, per project and domain: roles, grants and the check.

A caller (an API token, a console user, a user a trusted proxy names) holds grants, each a
role on a project and optionally one domain, ``*`` standing for all:

- ``viewer``: list and read executions, their events, inputs and outputs;
- ``submitter``: a viewer that also submits, aborts and signals;
- ``admin``: a submitter; reserved for what manages a project (tokens of its own).

A grant is written ``role@project`` or ``role@project/domain`` (``admin@*``,
``viewer@ml/development``). Pure: the check needs neither Redis nor a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from plugins.errors import AccessDeniedError, ConfigError, FlyteCeleryError

__all__ = ["ANY", "Caller", "Grant", "Role", "parse_grants"]

ANY = "*"
"""A grant's project or domain that stands for every one."""


class Role(enum.IntEnum):
    """What a grant allows; each role allows what the ones below it do."""

    VIEWER = 1
    SUBMITTER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role as grants and messages spell it: ``viewer``, ``submitter``, ``admin``."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        """``viewer``, ``submitter`` or ``admin``.

        Raises:
            ConfigError: Another word; the message lists the roles.
        """
        try:
            return cls[text.strip().upper()]
        except KeyError:
            known = ", ".join(r.label for r in cls)
            raise ConfigError(f"unknown role {text.strip()!r} (roles: {known})") from None


@dataclass(frozen=True)
class Grant:
    """A role on a project (and one domain of it, or every one).

    Attributes:
        role: What it allows.
        project: The project, or ``*``.
        domain: The domain, or ``*``.
    """

    role: Role
    project: str
    domain: str = ANY

    @classmethod
    def parse(cls, text: str) -> Grant:
        """``role@project`` or ``role@project/domain``.

        Raises:
            ConfigError: Not of that form, or an unknown role; the message quotes it.
        """
        role, at, scope = text.strip().partition("@")
        project, slash, domain = scope.partition("/")
        if not at or not project or "/" in domain or (slash and not domain):
            raise ConfigError(
                f"grant {text.strip()!r} is not role@project or role@project/domain "
                "(for example submitter@ml, viewer@ml/development, admin@*)"
            )
        return cls(Role.parse(role), project, domain or ANY)

    def covers(self, project: str, domain: str) -> bool:
        """Whether this grant is about ``project`` and ``domain``."""
        return self.project in (ANY, project) and self.domain in (ANY, domain)

    def __str__(self) -> str:
        scope = self.project if self.domain == ANY else f"{self.project}/{self.domain}"
        return f"{self.role.label}@{scope}"


@dataclass(frozen=True)
class Caller:
    """Someone the API or the console serves: a name, its grants, and how it signed in.

    Attributes:
        name: The token's name, or the user's.
        grants: What it may do.
        via: How it was recognised: ``token``, ``user`` or ``proxy``.
    """

    name: str
    grants: tuple[Grant, ...]
    via: str = "token"

    def role_on(self, project: str, domain: str) -> Role | None:
        """The highest role a grant gives on ``project``/``domain``; ``None``: no access."""
        roles = [g.role for g in self.grants if g.covers(project, domain)]
        return max(roles) if roles else None

    def may(self, need: Role, project: str, domain: str) -> bool:
        """Whether the caller holds ``need`` (or more) on ``project``/``domain``."""
        role = self.role_on(project, domain)
        return role is not None and role >= need

    def require(self, need: Role, project: str, domain: str) -> None:
        """Refuse unless the caller holds ``need`` on ``project``/``domain``.

        Raises:
            AccessDeniedError: Naming the project, the domain and the role it needs.
        """
        if not self.may(need, project, domain):
            raise AccessDeniedError(
                f"{self.name!r} may not do this in project {project!r}, domain {domain!r}: "
                f"it needs the {need.label} role there"
            )

    def narrow(self, project: str | None, domain: str | None) -> tuple[str | None, str | None]:
        """A listing's project and domain, narrowed to what the caller may see.

        Every row such a listing reads is one the caller may see: a page's cursor names the
        last row read, so a wider read would name another project's execution in it. A
        caller of one project (or one domain of it) need not say which.

        Raises:
            AccessDeniedError: The caller may see nothing of the project or domain asked.
            FlyteCeleryError: It may see several and must say which (code ``InvalidQuery``).
        """
        visible = self.visible_projects()
        if project is None and visible is not None:
            project = _one(visible, "project")
        scoped = {g.domain for g in self.grants if g.project in (ANY, project or ANY)}
        if not scoped:  # nothing in that project: the refusal names it
            self.require(Role.VIEWER, project or ANY, domain or ANY)
        if domain is None and ANY not in scoped:
            domain = _one(scoped, "domain")
        self.require(Role.VIEWER, project or ANY, domain or ANY)
        return project, domain

    def sees_everything(self) -> bool:
        """Whether a grant covers every project and domain (then counts are exact)."""
        return any(g.project == ANY and g.domain == ANY for g in self.grants)

    def visible_projects(self) -> set[str] | None:
        """The projects the caller may see anything of; ``None``: every project."""
        projects = {g.project for g in self.grants}
        return None if ANY in projects else projects


def _one(choices: set[str], what: str) -> str:
    if len(choices) != 1:
        known = ", ".join(sorted(choices))
        raise FlyteCeleryError(
            f"say which {what} (?{what}=): you may see {known}", code="InvalidQuery"
        )
    return next(iter(choices))


def parse_grants(texts: Iterable[str]) -> tuple[Grant, ...]:
    """Grants from their written forms (see :meth:`Grant.parse`); blanks are skipped.

    Raises:
        ConfigError: One is malformed.
    """
    return tuple(Grant.parse(t) for t in texts if t.strip())
