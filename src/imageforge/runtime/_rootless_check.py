"""The ``rootless`` item of ``imageforge system check``: can users who are not root build
here? Probed for real: the id-map helpers are installed and privileged, and an overlay
mounts (with ``userxattr``) inside a new user namespace and makes whiteouts there.

Three cases: as root, whether this machine is ready for rootless users; as a user inside
the namespace (the check entered it, as builds do), which ids are mapped; as a user who
could not enter it, why not and what to do.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

from imageforge.errors import ImageforgeError
from imageforge.runtime._probes import scratch_dir
from imageforge.runtime._report import CheckItem
from imageforge.runtime._userns import (
    SUBUID,
    IdRange,
    RootlessPlan,
    in_user_namespace,
    rootless_plan,
)

__all__ = ["check_rootless"]

_HELPERS = ("newuidmap", "newgidmap")
_HELPER_DIRS = "/usr/bin:/usr/sbin:/bin:/sbin:/usr/local/bin"


def _helper(name: str) -> dict[str, Any]:
    """Where the helper is and whether it can write id maps (setuid root, or file
    capabilities as some distributions install it)."""
    path = shutil.which(name) or shutil.which(name, path=_HELPER_DIRS)
    if path is None:
        return {"path": None, "privileged": False}
    st = os.stat(path)
    try:
        caps = "security.capability" in os.listxattr(path)
    except OSError:
        caps = False
    setuid_root = bool(st.st_mode & stat.S_ISUID) and st.st_uid == 0
    return {"path": path, "privileged": setuid_root or caps}


def _overlay_in_userns(base: Path | None) -> tuple[bool, str]:
    """Mount an overlay in a new user and mount namespace (``unshare -Urm``, as root
    mapped to itself) and check a write and a deletion reach the upper dir."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False, "no 'unshare' binary to probe with (apt-get install util-linux)"
    with scratch_dir(base, "probe-userns-overlay-") as scratch:
        lower, upper, work, merged = (scratch / n for n in ("lower", "upper", "work", "merged"))
        for d in (lower, upper, work, merged):
            d.mkdir()
        (lower / "old").write_text("lower")
        options = f"lowerdir={lower},upperdir={upper},workdir={work},userxattr"
        script = 'mount -t overlay overlay -o "$1" "$2" && echo upper > "$2/new" && rm "$2/old"'
        proc = subprocess.run(
            [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh"]
            + [options, str(merged)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            return False, (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
        whiteout = upper / "old"
        try:
            st = whiteout.lstat()
            is_whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
        except FileNotFoundError:
            is_whiteout = False
        new = upper / "new"
        if not (new.exists() and new.read_text() == "upper\n" and is_whiteout):
            return False, "the overlay mounted but the upper dir did not get the changes"
    return True, "an overlay mounts in a user namespace"


def _ranges(ranges: tuple[IdRange, ...]) -> str:
    return ", ".join(f"{r.start}-{r.start + r.count - 1}" for r in ranges)


def _users_with_ranges(path: Path = SUBUID) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    return len({line.split(":")[0] for line in lines if line.count(":") == 2})


def check_rootless(
    base: Path | None = None,
    *,
    plan: RootlessPlan | None = None,
    failure: ImageforgeError | None = None,
) -> CheckItem:
    """Whether rootless builds work here. ``plan`` is the namespace this process runs in
    (when a user's check entered one), ``failure`` why entering it failed."""
    data: dict[str, Any] = {
        "kernel": os.uname().release,
        "in_user_namespace": in_user_namespace(),
        "helpers": {name: _helper(name) for name in _HELPERS},
    }
    if failure is not None:
        return CheckItem("rootless", False, str(failure), failure.hint, data)
    if plan is not None and data["in_user_namespace"]:
        data.update(
            user=plan.user,
            uid=plan.uid,
            gid=plan.gid,
            subuids=[[r.start, r.count] for r in plan.uids],
            subgids=[[r.start, r.count] for r in plan.gids],
        )
        summary = (
            f"running rootless as {plan.user}: uid 0 is {plan.uid}, uids 1-{plan.mapped - 1} "
            f"are {_ranges(plan.uids)}; gids {_ranges(plan.gids)}"
        )
        return CheckItem("rootless", True, summary, None, data)
    if os.geteuid() != 0:
        try:
            rootless_plan()
        except ImageforgeError as exc:
            return CheckItem("rootless", False, str(exc), exc.hint, data)
        return CheckItem(
            "rootless", False, "not running in the user namespace", "report this as a bug", data
        )
    # Root, on the host: is this machine ready for users who are not root?
    missing = [n for n, h in data["helpers"].items() if not h["privileged"]]
    if missing:
        return CheckItem(
            "rootless",
            False,
            f"{' and '.join(missing)} missing or not privileged: users cannot map their ids",
            "apt-get install uidmap",
            data,
        )
    ok, why = _overlay_in_userns(base)
    data["overlay_in_userns"] = ok
    if not ok:
        return CheckItem(
            "rootless",
            False,
            f"cannot mount an overlay in a user namespace: {why}",
            "rootless builds need Linux 5.11 or later with user namespaces enabled",
            data,
        )
    data["users_with_subuids"] = _users_with_ranges()
    return CheckItem(
        "rootless",
        True,
        "users with /etc/subuid and /etc/subgid ranges can build without root "
        f"({data['users_with_subuids']} users have ranges in /etc/subuid; "
        "add some with usermod --add-subuids)",
        None,
        data,
    )
