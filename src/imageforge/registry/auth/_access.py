"""Who may do what: scopes (``repository:NAME:pull,push``) and the project rules.

A repository ``project/repo`` belongs to its first path component's project; a name with
one component belongs to ``library``. Admins may do everything; project members with
role ``developer`` or ``maintainer`` push and pull (``maintainer`` also deletes); anyone
(even anonymous) pulls from a public project; ``registry:catalog:*`` is for admins.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageforge.errors import InvalidArgument
from imageforge.registry.meta import MetaStore

__all__ = ["Access", "Authorizer", "Scope", "parse_scope"]


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


def project_of(repo: str) -> str:
    return repo.split("/", 1)[0] if "/" in repo else "library"


class Authorizer:
    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta

    def granted(self, user: str | None, wanted: Access) -> Access:
        """The subset of ``wanted`` that ``user`` (None = anonymous) may do."""
        row = self.meta.user(user) if user else None
        if wanted.type == "registry":
            ok = wanted.actions if row is not None and row.admin else frozenset()
            return Access(wanted.type, wanted.name, frozenset(ok))
        if wanted.type != "repository":
            return Access(wanted.type, wanted.name, frozenset())
        if row is not None and row.admin:
            allowed = {"pull", "push", "delete", "*"}
        else:
            allowed = set()
            project = self.meta.project(project_of(wanted.name))
            if project is not None:
                if project.public:
                    allowed.add("pull")
                role = self.meta.role(project.name, user) if user else None
                if role in ("developer", "maintainer"):
                    allowed |= {"pull", "push"}
                if role == "maintainer":
                    allowed |= {"delete", "*"}
                if role == "guest":
                    allowed.add("pull")
        return Access(wanted.type, wanted.name, frozenset(wanted.actions & allowed))
