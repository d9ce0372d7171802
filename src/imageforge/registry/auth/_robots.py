"""Robot accounts: machine users of one project with a generated secret (stored only as
an argon2 hash, shown once), a set of actions and an expiry."""

from __future__ import annotations

import re
import secrets
import time

from imageforge.errors import InvalidArgument, NotFound
from imageforge.registry.auth._access import ROBOT_ACTIONS, robot_name
from imageforge.registry.auth._users import hash_password, verify_password
from imageforge.registry.meta import MetaStore, RobotRow

__all__ = ["ROBOT_PATTERN", "check_robot", "create_robot"]

ROBOT_PATTERN = "^[a-z0-9][a-z0-9._-]{0,63}$"  # the short name, after robot$<project>+
_SHORT = re.compile(ROBOT_PATTERN)


def create_robot(
    meta: MetaStore,
    project: str,
    name: str,
    actions: frozenset[str],
    expires_in: float | None,
) -> tuple[RobotRow, str]:
    """Create (or replace, with a new secret) ``robot$project+name``; the row and the
    secret, which is not stored and cannot be shown again."""
    if not _SHORT.fullmatch(name):
        raise InvalidArgument(f"invalid robot name {name!r}", hint="lower case, digits, . _ -")
    if meta.project(project) is None:
        raise NotFound(f"project {project} does not exist")
    if not actions or not actions <= ROBOT_ACTIONS:
        raise InvalidArgument(
            f"robot actions {sorted(actions)} are not a non-empty subset of "
            + ", ".join(sorted(ROBOT_ACTIONS))
        )
    if expires_in is not None and expires_in <= 0:
        raise InvalidArgument("a robot's lifetime must be positive")
    now = time.time()
    secret = secrets.token_urlsafe(32)
    row = RobotRow(
        robot_name(project, name),
        project,
        hash_password(secret),
        actions,
        None if expires_in is None else now + expires_in,
        now,
    )
    meta.add_robot(row)
    return row, secret


def check_robot(meta: MetaStore, name: str, secret: str) -> RobotRow | None:
    """The robot if ``name`` is one, ``secret`` is its secret and it has not expired.
    The secret is checked (against a dummy for an unknown name) before the expiry, so the
    time taken does not tell which robots exist."""
    row = meta.robot(name)
    ok = verify_password(None if row is None else row.secret_hash, secret)
    return row if ok and row is not None and not row.expired() else None
