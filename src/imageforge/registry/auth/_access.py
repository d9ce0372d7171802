"""Who may do what: scopes (``repository:NAME:pull,push``), project roles and robots.

A repository ``project/repo`` belongs to its first path component's project; a name with
one component belongs to ``library``. Roles per project, each including the one before:
``guest`` pulls, ``developer`` also pushes, ``maintainer`` also deletes, ``admin`` also
manages the project's members and robot accounts. A system admin may do everything;
anyone (even anonymous) pulls from a public project; ``registry:catalog:*`` is for
system admins.

Robot accounts (``robot$<project>+<name>``) act only on their own project's repositories,
only with the actions they were given, and nothing at all once expired or deleted.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageforge.errors import InvalidArgument
from imageforge.registry._names import project_of
from imageforge.registry.meta import MetaStore

__all__ = [
    "ROLES",
    "ROBOT_ACTIONS",
    "Access",
    "Authorizer",
    "Scope",
    "is_robot",
    "parse_scope",
    "project_of",
    "robot_name",
]

ROLES = ("guest", "developer", "maintainer", "admin")
ROBOT_ACTIONS = frozenset({"pull", "push", "delete"})
_ROLE_ACTIONS = {
    "guest": {"pull"},
    "developer": {"pull", "push"},
    "maintainer": {"pull", "push", "delete", "*"},
    "admin": {"pull", "push", "delete", "*"},
}


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    actions: frozenset[str]


Scope = Access


def parse_scope(scope: str) -> Access:
    parts = scope.split(":")
    if len(parts) < 3:
        raise InvalidArgument(f"invalid scope {scope!r}")
    kind, actions = parts[0], parts[-1]
    name = ":".join(parts[1:-1])
    return Access(kind, name, frozenset(a for a in actions.split(",") if a))


def is_robot(user: str | None) -> bool:
    return user is not None and user.startswith("robot$")


def robot_name(project: str, name: str) -> str:
    return f"robot${project}+{name}"


class Authorizer:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta

    def is_system_admin(self, user: str | None) -> bool:
        if user is None or is_robot(user):
            return False
        row = self.meta.user(user)
        return row is not None and row.admin

    def role(self, user: str | None, project: str) -> str | None:
        """``user``'s role in ``project`` (system admins count as ``admin``)."""
        if user is None or is_robot(user):
            return None
        if self.is_system_admin(user):
            return "admin"
        return self.meta.role(project, user)

    def granted(self, user: str | None, wanted: Access) -> Access:
        """The subset of ``wanted`` that ``user`` (None = anonymous) may do."""
        none = Access(wanted.type, wanted.name, frozenset())
        if is_robot(user):
            robot = self.meta.robot(str(user))
            if (
                robot is None
                or robot.expired()
                or wanted.type != "repository"
                or project_of(wanted.name) != robot.project
            ):
                return none
            return Access(wanted.type, wanted.name, wanted.actions & robot.actions)
        if wanted.type == "registry":
            ok = wanted.actions if self.is_system_admin(user) else frozenset()
            return Access(wanted.type, wanted.name, frozenset(ok))
        if wanted.type != "repository":
            return none
        allowed: set[str] = set()
        project = self.meta.project(project_of(wanted.name))
        if self.is_system_admin(user):
            allowed = set(_ROLE_ACTIONS["admin"])
        elif project is not None:
            if project.public:
                allowed.add("pull")
            role = self.meta.role(project.name, user) if user else None
            allowed |= _ROLE_ACTIONS.get(role or "", set())
        return Access(wanted.type, wanted.name, frozenset(wanted.actions & allowed))
