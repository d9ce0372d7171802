"""Managing a registry: users, projects (with their immutable tag rules), members and
their roles, robot accounts, the audit log and listings of repositories, tags and
manifests. The ``/api/v1/`` API and the ``registry`` admin commands both come here, so
they keep the same rules.

Every method takes ``by``, who asks: a user (None: anonymous) as the API has
authenticated them, or :data:`OPERATOR`, whoever may write the data directory (the
admin commands), who may do everything a system admin may. Who may do what: system
admins everything; a project's ``admin`` its members and robots; project members read
their project; nobody else sees a private project (NotFound, as if it did not exist).
A project that holds repositories is deleted only with ``force`` (which deletes them
too, as Harbor refuses to delete a non-empty project), and never while the delete gates
refuse one of them (an immutable tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from imageforge.errors import Conflict, Denied, InvalidArgument, NotFound
from imageforge.oci import Digest
from imageforge.registry._names import project_of
from imageforge.registry.auth import (
    ROLES,
    Access,
    Authorizer,
    create_robot,
    hash_password,
    robot_name,
)
from imageforge.registry.meta import (
    AuditRow,
    ManifestRow,
    MetaStore,
    MetaView,
    ProjectRow,
    Quota,
    RobotRow,
)
from imageforge.registry.policy import GateContext, Gates
from imageforge.registry.storage import RegistryStorage

__all__ = [
    "MAX_PASSWORD",
    "stored_size",
    "MIN_PASSWORD",
    "OPERATOR",
    "PROJECT_MAX",
    "PROJECT_PATTERN",
    "USER_PATTERN",
    "Management",
    "check_user_name",
]

# Not a name any user can have (see USER_PATTERN).
OPERATOR = "<operator>"
PROJECT_PATTERN = "^[a-z0-9]+(?:[._-][a-z0-9]+)*$"
PROJECT_MAX = 64
USER_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_PROJECT = re.compile(PROJECT_PATTERN)
_USER = re.compile(USER_PATTERN)


class Management:
    def __init__(
        self,
        meta: MetaStore,
        authorizer: Authorizer,
        gates: Gates,
        blob_size: Callable[[Digest], int | None] | None = None,
    ) -> None:
        self.meta = meta
        self.authz = authorizer
        self.gates = gates
        # The size of a stored blob (None: not stored), to fill in the sizes an older
        # version did not record before a quota counts them.
        self.blob_size = blob_size

    # --- who may
    def _role(self, by: str | None, project: str) -> str | None:
        return "admin" if by == OPERATOR else self.authz.role(by, project)

    def require_admin(self, by: str | None) -> None:
        """Denied unless ``by`` is a system admin (or the operator)."""
        if by != OPERATOR and not self.authz.is_system_admin(by):
            raise Denied(f"{by} is not a system admin")

    def _visible(self, by: str | None, name: str) -> ProjectRow:
        row = self.meta.project(name)
        if row is None or not (row.public or self._role(by, name) is not None):
            raise NotFound(f"project {name} does not exist")
        return row

    def require_project_admin(self, by: str | None, name: str) -> ProjectRow:
        """The project, if ``by`` administers it; NotFound if ``by`` may not see it,
        Denied if ``by`` may see but not administer it."""
        row = self._visible(by, name)
        if self._role(by, name) != "admin":
            raise Denied(f"{by} is not an admin of project {name}")
        return row

    # --- users
    def users(self, by: str | None) -> list[dict[str, Any]]:
        self.require_admin(by)
        return [{"name": r.name, "admin": r.admin} for r in self.meta.users()]

    def add_user(
        self, by: str | None, name: str, password: str, admin: bool = False, replace: bool = False
    ) -> None:
        """Create a user; with ``replace``, an existing one gets the new password (and
        ``admin``) instead of a Conflict."""
        self.require_admin(by)
        check_user_name(name)
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise InvalidArgument(
                f"the password is shorter than {MIN_PASSWORD} characters"
                if len(password) < MIN_PASSWORD
                else f"the password is longer than {MAX_PASSWORD} characters"
            )
        if not replace and self.meta.user(name) is not None:
            raise Conflict(f"user {name} exists")
        self.meta.add_user(name, hash_password(password), admin)

    def delete_user(self, by: str | None, name: str) -> None:
        """Delete a user and their memberships (never ``admin``, the first one)."""
        self.require_admin(by)
        if name == "admin":
            raise Denied("cannot delete user admin", hint="give another user admin rights")
        if not self.meta.delete_user(name):
            raise NotFound(f"user {name} does not exist")

    # --- projects
    def _project_json(self, row: ProjectRow) -> dict[str, Any]:
        return {
            "name": row.name,
            "public": row.public,
            "immutable_tags": self.meta.immutable(row.name),
        }

    def projects(self, by: str | None) -> list[dict[str, Any]]:
        """The projects ``by`` may see, with their immutable tag rules."""
        return [
            self._project_json(r)
            for r in self.meta.projects()
            if r.public or self._role(by, r.name) is not None
        ]

    def project(self, by: str | None, name: str) -> dict[str, Any]:
        return self._project_json(self._visible(by, name))

    def add_project(
        self, by: str | None, name: str, public: bool = False, immutable: list[str] | None = None
    ) -> dict[str, Any]:
        self.require_admin(by)
        if not _PROJECT.fullmatch(name) or len(name) > PROJECT_MAX:
            raise InvalidArgument(
                f"invalid project name {name!r}",
                hint=f"lower case, digits, . _ -; at most {PROJECT_MAX}",
            )
        patterns = _patterns(immutable or [])
        if self.meta.project(name) is not None:
            raise Conflict(f"project {name} exists")
        self.meta.add_project(name, public)
        self.meta.set_immutable(name, patterns)
        return {"name": name, "public": public, "immutable_tags": patterns}

    def set_immutable(self, by: str | None, name: str, patterns: list[str]) -> list[str]:
        """Replace the project's immutable tag globs (none: clear them)."""
        self.require_admin(by)
        checked = _patterns(patterns)
        if self.meta.project(name) is None:
            raise NotFound(f"project {name} does not exist")
        self.meta.set_immutable(name, checked)
        return checked

    def _fill_sizes(self, project: str) -> None:
        if self.blob_size is None:
            return
        sizes = {
            d: size
            for d in self.meta.unsized_blobs(project)
            if (size := self.blob_size(d)) is not None
        }
        if sizes:
            self.meta.record_sizes(sizes)

    def quota(self, by: str | None, name: str) -> dict[str, Any]:
        """The project's storage quota (``limit`` None: none) and what it uses, each
        blob and manifest counted once; ``state`` is ``ok``, ``warning`` (past the
        warning share) or ``exceeded``. Members see it; admins set it."""
        self._visible(by, name)
        self._fill_sizes(name)
        quota = self.meta.quota(name)
        usage = self.meta.usage(name)
        state = "ok"
        if quota is not None:
            if usage.used > quota.limit:
                state = "exceeded"
            elif usage.used * 100 >= quota.limit * quota.warn_percent:
                state = "warning"
        return {
            "project": name,
            "limit": None if quota is None else quota.limit,
            "warn_percent": None if quota is None else quota.warn_percent,
            "used": usage.used,
            "blobs": usage.blobs,
            "state": state,
        }

    def set_quota(
        self, by: str | None, name: str, limit: int | None, warn_percent: int = 80
    ) -> dict[str, Any]:
        """Set the project's storage quota in bytes (None: no quota). A quota below
        what the project uses is allowed (Harbor allows it too): pushes of anything new
        are refused until it is under again."""
        self.require_admin(by)
        if self.meta.project(name) is None:
            raise NotFound(f"project {name} does not exist")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise InvalidArgument(f"quota {limit!r} is not a number of bytes (0 or more)")
        if (
            isinstance(warn_percent, bool)
            or not isinstance(warn_percent, int)
            or not 1 <= warn_percent <= 100
        ):
            raise InvalidArgument(f"warning share {warn_percent!r} is not a percentage (1-100)")
        self._fill_sizes(name)
        self.meta.set_quota(name, None if limit is None else Quota(limit, warn_percent))
        return self.quota(by, name)

    def delete_project(self, by: str | None, name: str, force: bool = False) -> list[str]:
        """Delete a project with its members, robots and immutable rules; the
        repositories deleted with it (only with ``force``: Conflict if it holds any)."""
        self.require_admin(by)
        if name == "library":
            raise Denied("the project library cannot be deleted")

        # A repository goes with its tags: the gates are asked about each, before the
        # delete and (the transactional ones) in its transaction.
        def ask(view: MetaView, repo: str, transaction: bool) -> None:
            for tag, digest in sorted(view.repo_tags(repo)):
                ctx = GateContext(
                    "delete", repo, by, reference=tag, tag=tag, target="repository", state=view
                )
                if transaction:
                    self.gates.check_in(view, digest, ctx)
                else:
                    self.gates.check(digest, ctx)

        if force:
            live = self.meta.view()
            for repo in self.repositories(OPERATOR, name):
                ask(live, repo, False)
        deleted = self.meta.delete_project(name, force, lambda view, repo: ask(view, repo, True))
        if deleted is None:
            raise NotFound(f"project {name} does not exist")
        return deleted

    # --- members
    def members(self, by: str | None, project: str) -> list[tuple[str, str]]:
        self._visible(by, project)
        if self._role(by, project) is None:
            raise Denied(f"{by} is not a member of {project}")
        return self.meta.members(project)

    def set_member(self, by: str | None, project: str, user: str, role: str) -> None:
        self.require_project_admin(by, project)
        if role not in ROLES:
            raise InvalidArgument(f"role {role!r} is not one of {', '.join(ROLES)}")
        if self.meta.user(user) is None:
            raise NotFound(f"user {user} does not exist")
        self.meta.add_member(project, user, role)

    def remove_member(self, by: str | None, project: str, user: str) -> None:
        self.require_project_admin(by, project)
        if not self.meta.remove_member(project, user):
            raise NotFound(f"{user} is not a member of {project}")

    # --- robots
    def robots(self, by: str | None, project: str | None) -> list[RobotRow]:
        """The robots of ``project`` (None: of every project, for system admins)."""
        if project is None:
            self.require_admin(by)
        else:
            self.require_project_admin(by, project)
        return self.meta.robots(project)

    def add_robot(
        self,
        by: str | None,
        project: str,
        name: str,
        actions: frozenset[str],
        expires_in: float | None,
    ) -> tuple[RobotRow, str]:
        """Create (or replace) ``robot$project+name``: the row and its secret, shown
        only now."""
        self.require_project_admin(by, project)
        return create_robot(self.meta, project, name, actions, expires_in)

    def delete_robot(self, by: str | None, project: str, name: str) -> str:
        """Delete the project's robot ``name`` (short or full); its full name."""
        self.require_project_admin(by, project)
        full = name if name.startswith("robot$") else robot_name(project, name)
        row = self.meta.robot(full)
        if row is None or row.project != project or not self.meta.delete_robot(full):
            raise NotFound(f"robot {full} does not exist")
        return full

    # --- audit log
    def audit(
        self,
        by: str | None,
        *,
        user: str | None = None,
        repo: str | None = None,
        action: str | None = None,
        result: str | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        self.require_admin(by)
        if result not in (None, "ok", "refused"):
            raise InvalidArgument("result is ok or refused")
        return self.meta.audit(user=user, repo=repo, action=action, result=result, limit=limit)

    # --- listings
    def repositories(self, by: str | None, project: str | None = None) -> list[str]:
        """The repositories (of ``project``, if given) ``by`` may see."""
        visible: dict[str, bool] = {}
        out = []
        for repo in self.meta.repositories(None, None):
            name = project_of(repo)
            if project is not None and name != project:
                continue
            if name not in visible:
                row = self.meta.project(name)
                visible[name] = row is not None and (row.public or self._role(by, name) is not None)
            if visible[name]:
                out.append(repo)
        return out

    def _readable(self, by: str | None, repo: str) -> str:
        may = by == OPERATOR or bool(
            self.authz.granted(by, Access("repository", repo, frozenset({"pull"}))).actions
        )
        if not repo or not may or not self.meta.repo_exists(repo):
            raise NotFound(f"repository {repo!r} is not known")
        return repo

    def tags(self, by: str | None, repo: str) -> list[tuple[str, Digest]]:
        return self.meta.tag_list(self._readable(by, repo))

    def manifests(self, by: str | None, repo: str) -> list[tuple[ManifestRow, float, list[str]]]:
        """Each manifest of ``repo`` with when it was pushed and its tags."""
        self._readable(by, repo)
        tags: dict[str, list[str]] = {}
        for t, d in self.meta.tag_list(repo):
            tags.setdefault(str(d), []).append(t)
        return [
            (m, created, tags.get(str(m.digest), []))
            for m, created in self.meta.manifest_list(repo)
        ]


def check_user_name(name: str) -> None:
    """InvalidArgument unless ``name`` may name a user."""
    if not _USER.fullmatch(name):
        raise InvalidArgument(
            f"invalid user name {name!r}", hint="letters, digits, . _ -; at most 64"
        )


def _patterns(patterns: list[str]) -> list[str]:
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise InvalidArgument(f"immutable tag rule {p!r} is not a non-empty glob")
    return list(patterns)


def stored_size(storage: RegistryStorage) -> Callable[[Digest], int | None]:
    """The size of a blob in ``storage`` (None: not there), for :class:`Management`."""

    def size(digest: Digest) -> int | None:
        try:
            return storage.info(digest).size
        except NotFound:
            return None

    return size
