"""A throwaway unprivileged user with subordinate ids, and ``imageforge`` as they run it.

Shared by the rootless tests and ``benchmarks/rootless_build.py``. The user cannot run
this checkout's interpreter or virtualenv if they live under /root (0700), so they get a
world-readable copy (hard links where possible) of the imageforge package and of the
virtualenv's site-packages, run by a Python of the same version that they can execute.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import imageforge

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path

    @property
    def store(self) -> Path:
        """Where imageforge keeps this user's images by default."""
        return self.home / ".local" / "share" / "imageforge"


def subid_ranges(path: Path, name: str) -> list[tuple[int, int]]:
    """(start, count) of each line of /etc/subuid or /etc/subgid for ``name``."""
    out = []
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 3 and fields[0] == name:
            out.append((int(fields[1]), int(fields[2])))
    return out


def _free_range() -> int:
    """A start above every range /etc/subuid and /etc/subgid already give out."""
    end = 100000
    for path in (SUBUID, SUBGID):
        if path.exists():
            for line in path.read_text().splitlines():
                fields = line.split(":")
                if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                    end = max(end, int(fields[1]) + int(fields[2]))
    return end


def make_user(*, with_ranges: bool) -> User:
    """``useradd -m`` a user with a unique name; with 65536 subordinate uids and gids
    (useradd gives them when login.defs says so, else usermod), or with none."""
    name = f"ifrl{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    has = subid_ranges(SUBUID, name) and subid_ranges(SUBGID, name)
    if with_ranges and not has:
        start = _free_range()
        span = f"{start}-{start + 65535}"
        subprocess.run(
            ["usermod", "--add-subuids", span, "--add-subgids", span, name],
            check=True,
            capture_output=True,
        )
    if not with_ranges:
        for path, flag in ((SUBUID, "--del-subuids"), (SUBGID, "--del-subgids")):
            for start, count in subid_ranges(path, name):
                span = f"{start}-{start + count - 1}"
                subprocess.run(["usermod", flag, span, name], check=True, capture_output=True)
    pw = pwd.getpwnam(name)
    return User(name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir))


def remove_user(user: User) -> None:
    """``userdel -r``: the user, their home and their subordinate ranges go."""
    subprocess.run(["userdel", "-r", user.name], capture_output=True, check=False)
    for path in (SUBUID, SUBGID):
        if subid_ranges(path, user.name):
            raise AssertionError(f"{path} still lists {user.name}")


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@dataclass(frozen=True)
class Code:
    """Interpreters to try and the PYTHONPATH of a readable copy of imageforge."""

    pythons: tuple[str, ...]
    pythonpath: str


@contextmanager
def readable_code() -> Iterator[Code]:
    """A world-readable copy of the imageforge package and this virtualenv's
    site-packages, removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="imageforge-rootless-"))
    work.chmod(0o755)
    try:
        package = Path(imageforge.__file__).resolve().parent
        shutil.copytree(package, work / "src" / "imageforge", copy_function=_link_or_copy)
        shutil.copytree(
            Path(sysconfig.get_paths()["purelib"]),
            work / "site",
            copy_function=_link_or_copy,
            ignore=shutil.ignore_patterns("imageforge", "__editable__*", "_editable_impl*"),
        )
        for d in (work / "src", work / "site"):
            d.chmod(0o755)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        pythons = [os.path.realpath(sys.executable), getattr(sys, "_base_executable", "")]
        pythons += [f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
        yield Code(
            tuple(p for p in pythons if p and os.path.exists(p)),
            f"{work / 'src'}:{work / 'site'}",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class UserCli:
    """``imageforge`` as ``user`` runs it, in a clean environment from their home."""

    user: User
    python: str
    pythonpath: str

    def argv(self, args: Sequence[str], **env: str) -> list[str]:
        full = {
            "HOME": str(self.user.home),
            "USER": self.user.name,
            "LOGNAME": self.user.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
            "PYTHONPATH": self.pythonpath,
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **env,
        }
        return [
            "runuser",
            "-u",
            self.user.name,
            "--",
            "env",
            "-i",
            *(f"{k}={v}" for k, v in full.items()),
            self.python,
            "-m",
            "imageforge",
            *args,
        ]

    def __call__(
        self, args: Sequence[str], *, timeout: float = 300, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(args, **(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.user.home,
            stdin=subprocess.DEVNULL,
            check=False,
        )


def cli_for(user: User, code: Code) -> UserCli:
    """The first interpreter of ``code`` that ``user`` can run."""
    for python in code.pythons:
        proc = subprocess.run(
            ["runuser", "-u", user.name, "--", python, "-c", "pass"],
            capture_output=True,
            check=False,
            cwd="/",
        )
        if proc.returncode == 0:
            return UserCli(user, python, code.pythonpath)
    raise AssertionError(f"none of {code.pythons} can be run by an unprivileged user")
