"""``USER name[:group]`` to numeric ids through the image's /etc/passwd and /etc/group,
as Docker resolves it: a name must exist, a number need not (group 0 then), and the
process's supplementary groups are its primary group followed by the groups that list
the user by name (with an explicit group, that group alone), as Docker and buildah set
them: ``id`` shows ``groups=1000(u),2000(g)``.

Hand-written: the host's ``pwd``/``grp`` modules read the host's databases, not a rootfs.
"""

from __future__ import annotations

import os
from pathlib import Path

from imageforge.errors import InvalidArgument

__all__ = ["resolve_user"]


def _read_db(rootfs: Path, name: str) -> list[list[str]]:
    """The colon-separated rows of ``/etc/<name>`` in ``rootfs``; a missing file or one
    that is a symlink (it could point out of the rootfs) reads as empty."""
    path = rootfs / "etc" / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return []
    with open(fd, "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def resolve_user(rootfs: Path, user: str) -> tuple[int, int, tuple[int, ...]]:
    """(uid, gid, supplementary gids) for ``user`` (``name``, ``uid``, ``x:group``); the
    supplementary gids start with ``gid``."""
    # No USER means root, with or without an /etc/passwd that names it (as Docker does).
    spec = user.strip() or "0"
    name, _, group = spec.partition(":")
    passwd = _read_db(rootfs, "passwd")
    groups = _read_db(rootfs, "group")
    uid: int | None = None
    gid = 0
    username: str | None = None
    for row in passwd:
        if len(row) < 4:
            continue
        if row[0] == name or (name.isdigit() and row[2] == name):
            try:
                uid, gid = int(row[2]), int(row[3])
            except ValueError:
                continue
            username = row[0]
            break
    if uid is None:
        if not name.isdigit():
            raise InvalidArgument(
                f"unable to find user {name}: no matching entries in the image's /etc/passwd",
                hint="create the user in an earlier RUN step, or give a numeric uid",
            )
        uid = int(name)
    if group:
        found: int | None = None
        for row in groups:
            if len(row) >= 3 and (row[0] == group or (group.isdigit() and row[2] == group)):
                try:
                    found = int(row[2])
                except ValueError:
                    continue
                break
        if found is None:
            if not group.isdigit():
                raise InvalidArgument(
                    f"unable to find group {group}: no matching entries in the image's /etc/group",
                    hint="create the group first, or give a numeric gid",
                )
            found = int(group)
        gid = found
    extra: list[int] = [gid]
    if username is not None and not group:
        for row in groups:
            if len(row) >= 4 and username in row[3].split(","):
                try:
                    g = int(row[2])
                except ValueError:
                    continue
                if g != gid and g not in extra:
                    extra.append(g)
    return uid, gid, tuple(extra)
