"""Rootless operation: this process continues inside a user namespace where the invoking
user is root and the user's subordinate ids (``/etc/subuid``, ``/etc/subgid``) are
mapped, as podman and buildah do, plus a private mount namespace so overlay mounts work.

How: fork; the child calls unshare(CLONE_NEWUSER | CLONE_NEWNS) and waits; the parent
writes the child's id maps with the setuid helpers ``newuidmap``/``newgidmap`` (Debian
package ``uidmap``), then tells the child to go on and waits for it, passing on its exit
status. Inside, uid 0 is the user and ids 1..N are the subordinate ranges, so files a
build makes as root are the user's on disk and layers record them as uid 0.

Hand-written: Python has no binding for this (``os.unshare`` arrives in 3.12 and the id
maps need the setuid helpers anyway); util-linux ``unshare --map-auto`` maps root to the
first subordinate id, not to the user, which would leave the user's own files (the store
under the home directory) unreadable inside.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import Unavailable
from imageforge.runtime._mount import mount

__all__ = [
    "IdRange",
    "RootlessPlan",
    "enter_user_namespace",
    "id_map",
    "in_user_namespace",
    "rootless_plan",
    "subordinate_ranges",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18
_FULL_MAP = ("0", "0", "4294967295")
SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
_HELPER_DIRS = "/usr/bin:/usr/sbin:/bin:/sbin:/usr/local/bin"


@dataclass(frozen=True)
class IdRange:
    """``count`` subordinate ids starting at ``start`` (one line of /etc/subuid)."""

    start: int
    count: int


def subordinate_ranges(path: Path, user: str, uid: int) -> list[IdRange]:
    """The ranges ``path`` (/etc/subuid or /etc/subgid) gives ``user`` (by name or by
    numeric id, as shadow's helpers accept), in file order; none if the file is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    ranges: list[IdRange] = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or line.lstrip().startswith("#"):
            continue
        owner, start, count = fields
        if owner not in (user, str(uid)):
            continue
        try:
            r = IdRange(int(start), int(count))
        except ValueError:
            continue
        if r.count > 0:
            ranges.append(r)
    return ranges


def id_map(own: int, ranges: Sequence[IdRange]) -> list[int]:
    """The newuidmap/newgidmap arguments (inside, outside, count triples): 0 is ``own``,
    then each subordinate range in turn from 1."""
    args = [0, own, 1]
    inside = 1
    for r in ranges:
        args += [inside, r.start, r.count]
        inside += r.count
    return args


def in_user_namespace() -> bool:
    """Whether this process runs in a user namespace other than the initial one (whose
    uid_map is the identity over all 2^32-1 ids)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().splitlines()
    except OSError:
        return False
    return not (len(lines) == 1 and tuple(lines[0].split()) == _FULL_MAP)


@dataclass(frozen=True)
class RootlessPlan:
    """What entering the user namespace needs, all found before anything is started."""

    user: str
    uid: int
    gid: int
    uids: tuple[IdRange, ...]
    gids: tuple[IdRange, ...]
    newuidmap: str
    newgidmap: str

    @property
    def mapped(self) -> int:
        """How many ids exist inside (root plus the smaller of the two ranges' sizes)."""
        return 1 + min(sum(r.count for r in self.uids), sum(r.count for r in self.gids))


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return os.environ.get("USER") or str(uid)


def rootless_plan(*, subuid: Path = SUBUID, subgid: Path = SUBGID) -> RootlessPlan:
    """Check that this user can enter a user namespace with subordinate ids: ranges in
    /etc/subuid and /etc/subgid, and the newuidmap/newgidmap helpers installed.
    Raises :class:`Unavailable`, with what to do, when not."""
    uid, gid = os.getuid(), os.getgid()
    user = _user_name(uid)
    helpers = {
        name: shutil.which(name) or shutil.which(name, path=_HELPER_DIRS)
        for name in ("newuidmap", "newgidmap")
    }
    missing = [name for name, path in helpers.items() if path is None]
    if missing:
        raise Unavailable(
            f"rootless mode needs {' and '.join(missing)}, which is not installed",
            hint="as root: apt-get install uidmap",
        )
    uids = subordinate_ranges(subuid, user, uid)
    gids = subordinate_ranges(subgid, user, uid)
    lacking = [str(p) for p, r in ((subuid, uids), (subgid, gids)) if not r]
    if lacking:
        raise Unavailable(
            f"user {user} has no subordinate id range in {' and '.join(lacking)}, which "
            "rootless builds need to map the ids of image files",
            hint=f"as root: usermod --add-subuids 100000-165535 --add-subgids "
            f"100000-165535 {user} (pick a range no other user has)",
        )
    newuidmap, newgidmap = helpers["newuidmap"], helpers["newgidmap"]
    assert newuidmap is not None and newgidmap is not None
    return RootlessPlan(user, uid, gid, tuple(uids), tuple(gids), newuidmap, newgidmap)


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.unshare(ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare: {os.strerror(err)}")


def _write_maps(plan: RootlessPlan, pid: int) -> str | None:
    """Run newuidmap and newgidmap on ``pid``; None, or why it failed."""
    for helper, own, ranges in (
        (plan.newuidmap, plan.uid, plan.uids),
        (plan.newgidmap, plan.gid, plan.gids),
    ):
        argv = [helper, str(pid), *map(str, id_map(own, ranges))]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"{Path(helper).name}: {exc}"
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip() or f"exit {proc.returncode}"
            return f"{' '.join(argv)}: {why}"
    return None


def _child(ready_w: int, go_r: int) -> None:
    """In the forked child: make the namespaces, let the parent map them, wait for it."""
    try:
        _unshare(CLONE_NEWUSER | CLONE_NEWNS)
    except OSError as exc:
        os.write(ready_w, f"E{exc.strerror}".encode())
        os._exit(125)
    os.write(ready_w, b"R")
    os.close(ready_w)
    answer = os.read(go_r, 1)
    os.close(go_r)
    if answer != b"G":
        os._exit(125)  # the parent could not map us and reports why
    # Mounts made here (overlays) must not propagate anywhere.
    mount("none", "/", "", _MS_REC | _MS_PRIVATE)


def _wait(pid: int) -> int:
    """Wait for the child, passing SIGTERM/SIGHUP on; SIGINT from a terminal reaches the
    child itself (same process group), so it is ignored here."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 125
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # killed by a signal: the shell's 128+N


def enter_user_namespace(plan: RootlessPlan) -> int | None:
    """Fork and continue in a child that is root in a new user namespace (see the module
    docstring). Returns None in the child, which goes on with the command; in the parent,
    once the child ended, its exit code, for the caller to exit with. Raises
    :class:`Unavailable` (in the parent, nothing started) when the namespace cannot be
    made."""
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_r)
        os.close(go_w)
        _child(ready_w, go_r)
        return None
    os.close(ready_w)
    os.close(go_r)
    try:
        ready = os.read(ready_r, 256)
        failure: str | None
        if ready == b"R":
            failure = _write_maps(plan, pid)
        else:
            failure = f"cannot create a user namespace: {ready[1:].decode() or 'child died'}"
        os.write(go_w, b"X" if failure else b"G")
    finally:
        os.close(ready_r)
        os.close(go_w)
    if failure:
        os.waitpid(pid, 0)
        raise Unavailable(
            f"rootless mode: {failure}",
            hint="run 'imageforge system check' to see what this machine allows "
            "(user.max_user_namespaces, /etc/subuid ranges, the uidmap helpers)",
        )
    return _wait(pid)
