"""Rootless builds: an unprivileged user with /etc/subuid and /etc/subgid ranges
bootstraps busybox, builds and runs an image through a user namespace, with the store
under their home.

The user is made for the test (useradd -m) and removed with its home afterwards. The
user cannot run this checkout's interpreter or virtualenv if they live under /root, so
the test hands them a readable copy (hard links where possible) of the imageforge
package and the virtualenv's site-packages, run by a Python of the same version that
they can execute.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

import imageforge
from tests.conftest import need_binary, requires_root

pytestmark = [pytest.mark.slow, requires_root]


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: Path


def _ranges(path: Path, name: str) -> list[tuple[int, int]]:
    out = []
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if len(fields) == 3 and fields[0] == name:
            out.append((int(fields[1]), int(fields[2])))
    return out


def _free_range() -> int:
    """A start above every range /etc/subuid and /etc/subgid already give out."""
    end = 100000
    for path in (Path("/etc/subuid"), Path("/etc/subgid")):
        if path.exists():
            for line in path.read_text().splitlines():
                fields = line.split(":")
                if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                    end = max(end, int(fields[1]) + int(fields[2]))
    return end


def _make_user(with_ranges: bool) -> User:
    need_binary("useradd")
    name = f"ifrl{uuid.uuid4().hex[:10]}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    has = _ranges(Path("/etc/subuid"), name) and _ranges(Path("/etc/subgid"), name)
    if with_ranges and not has:
        start = _free_range()
        span = f"{start}-{start + 65535}"
        subprocess.run(
            ["usermod", "--add-subuids", span, "--add-subgids", span, name],
            check=True,
            capture_output=True,
        )
    if not with_ranges:
        for start, count in _ranges(Path("/etc/subuid"), name):
            span = f"{start}-{start + count - 1}"
            subprocess.run(["usermod", "--del-subuids", span, name], check=True)
        for start, count in _ranges(Path("/etc/subgid"), name):
            span = f"{start}-{start + count - 1}"
            subprocess.run(["usermod", "--del-subgids", span, name], check=True)
    import pwd

    pw = pwd.getpwnam(name)
    return User(name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir))


def _remove_user(user: User) -> None:
    subprocess.run(["userdel", "-r", user.name], capture_output=True, check=False)
    for path in (Path("/etc/subuid"), Path("/etc/subgid")):
        assert not _ranges(path, user.name), f"{path} still lists {user.name}"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _runs_as(user: User, argv: Sequence[str]) -> bool:
    proc = subprocess.run(
        ["runuser", "-u", user.name, "--", *argv], capture_output=True, check=False, cwd="/"
    )
    return proc.returncode == 0


@dataclass(frozen=True)
class UserCli:
    """``imageforge`` as ``user`` would run it: a Python they can execute, the package
    and its dependencies on a path they can read."""

    user: User
    python: str
    pythonpath: str

    def __call__(
        self, args: Sequence[str], *, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {
            "HOME": str(self.user.home),
            "USER": self.user.name,
            "LOGNAME": self.user.name,
            "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
            "PYTHONPATH": self.pythonpath,
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return subprocess.run(
            [
                "runuser",
                "-u",
                self.user.name,
                "--",
                "env",
                "-i",
                *(f"{k}={v}" for k, v in env.items()),
                self.python,
                "-m",
                "imageforge",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.user.home,
            stdin=subprocess.DEVNULL,
            check=False,
        )


@pytest.fixture(scope="module")
def user_code() -> Iterator[tuple[list[str], str]]:
    """(Python interpreters to try, PYTHONPATH): a world-readable copy of the package
    and of this virtualenv's site-packages."""
    work = Path(tempfile.mkdtemp(prefix="imageforge-rootless-"))
    work.chmod(0o755)
    try:
        package = Path(imageforge.__file__).resolve().parent
        shutil.copytree(package, work / "src" / "imageforge", copy_function=_link_or_copy)
        site = Path(sysconfig.get_paths()["purelib"])
        shutil.copytree(
            site,
            work / "site",
            copy_function=_link_or_copy,
            ignore=shutil.ignore_patterns("imageforge", "__editable__*", "_editable_impl*"),
        )
        for d in (work / "src", work / "site"):
            d.chmod(0o755)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        pythons = [os.path.realpath(sys.executable), getattr(sys, "_base_executable", "")]
        pythons += [f"/usr/bin/{version}", f"/usr/local/bin/{version}"]
        yield [p for p in pythons if p and os.path.exists(p)], f"{work / 'src'}:{work / 'site'}"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _cli_for(user: User, user_code: tuple[list[str], str]) -> UserCli:
    pythons, pythonpath = user_code
    for python in pythons:
        if _runs_as(user, [python, "-c", "import sys; sys.exit(0)"]):
            return UserCli(user, python, pythonpath)
    pytest.fail(f"none of {pythons} can be run by an unprivileged user")


@pytest.fixture(scope="module")
def rootless(user_code: tuple[list[str], str]) -> Iterator[UserCli]:
    need_binary("newuidmap")
    user = _make_user(with_ranges=True)
    try:
        yield _cli_for(user, user_code)
    finally:
        _remove_user(user)


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args[-3:]}: exit {proc.returncode}\n{proc.stderr}"
    return proc


DOCKERFILE = """\
FROM busybox
COPY hello.txt /app/hello.txt
RUN mkdir /data && id -u > /data/uid && cp /app/hello.txt /data/copy \\
 && touch /data/owned && chown 1000:1000 /data/owned \\
 && rm -rf /tmp && mkdir -m 1777 /tmp && echo new > /tmp/new
CMD ["sh", "-c", "cat /data/uid /data/copy; stat -c '%u:%g %n' /data/owned; id -u"]
"""


def _layer_members(layout: Path, index: int) -> dict[str, tarfile.TarInfo]:
    """The tar members of layer ``index`` of the one image in an OCI layout."""
    blobs = layout / "blobs" / "sha256"
    top = json.loads((layout / "index.json").read_text())
    manifest = json.loads((blobs / top["manifests"][0]["digest"][7:]).read_text())
    data = (blobs / manifest["layers"][index]["digest"][7:]).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name.rstrip("/"): m for m in tar.getmembers()}


def test_unprivileged_user_builds_and_runs_busybox(rootless: UserCli) -> None:
    user = rootless.user
    ok(rootless(["bootstrap", "busybox", "-t", "busybox:latest"]))
    context = user.home / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "hello.txt").write_text("hello rootless\n")
    shutil.chown(context, user.uid, user.gid)
    for p in context.iterdir():
        shutil.chown(p, user.uid, user.gid)

    digest = ok(rootless(["build", str(context), "-t", "rootless:1"])).stdout.strip()
    assert digest.startswith("sha256:")
    out = ok(rootless(["run", "rootless:1"])).stdout
    assert out.splitlines() == ["0", "hello rootless", "1000:1000 /data/owned", "0"]
    assert ok(rootless(["run", "rootless:1", "id", "-u"])).stdout == "0\n"

    # The store is the user's, under their home, and nothing of theirs is owned by root.
    store = user.home / ".local" / "share" / "imageforge"
    assert (store / "refs.db").is_file()
    for path in (store, store / "refs.db", store / "blobs"):
        st = path.stat()
        assert (st.st_uid, st.st_gid) == (user.uid, user.gid), path
    # A file the RUN chowned to 1000 is one of the user's subordinate ids on disk.
    sub_start = _ranges(Path("/etc/subuid"), user.name)[0][0]
    owned = list((store / "snapshots" / "l").glob("*/data/owned"))
    assert len(owned) == 1
    assert owned[0].stat().st_uid == sub_start + 999

    # The layer records the ids as the container saw them, and overlay's markers as OCI
    # whiteouts, with none of overlay's private xattrs.
    layout = user.home / "out"
    ok(rootless(["export", "rootless:1", f"oci:{layout}:1"]))
    run_layer = _layer_members(layout, 2)
    assert (run_layer["data/uid"].uid, run_layer["data/uid"].gid) == (0, 0)
    assert (run_layer["data/owned"].uid, run_layer["data/owned"].gid) == (1000, 1000)
    assert "tmp/.wh..wh..opq" in run_layer
    assert run_layer["tmp/new"].uid == 0
    for member in run_layer.values():
        assert not any("overlay." in key for key in member.pax_headers), member.name
    copy_layer = _layer_members(layout, 1)
    assert copy_layer["app/hello.txt"].uid == 0


def test_system_check_probes_inside_the_user_namespace(rootless: UserCli) -> None:
    user = rootless.user
    proc = rootless(["system", "check", "--format", "json", "--progress", "quiet"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    items = {it["name"]: it for it in report["items"]}
    assert report["root"] == str(user.home / ".local" / "share" / "imageforge")
    assert items["runtime.runc"]["ok"] and items["overlayfs"]["ok"], items
    rootless_item = items["rootless"]
    assert rootless_item["ok"] is True
    assert rootless_item["data"]["in_user_namespace"] is True
    assert (rootless_item["data"]["user"], rootless_item["data"]["uid"]) == (user.name, user.uid)
    start, count = _ranges(Path("/etc/subuid"), user.name)[0]
    assert rootless_item["data"]["subuids"] == [[start, count]]
    assert f"running rootless as {user.name}" in rootless_item["summary"]


def test_user_without_subordinate_ids_is_told_how_to_add_them(
    user_code: tuple[list[str], str],
) -> None:
    user = _make_user(with_ranges=False)
    try:
        cli = _cli_for(user, user_code)
        proc = cli(["build", "-t", "x:1", str(user.home)])
        assert proc.returncode == 10, proc.stderr
        assert f"user {user.name} has no subordinate id range in /etc/subuid" in proc.stderr
        assert "hint: as root: usermod --add-subuids" in proc.stderr
        assert not (user.home / ".local" / "share" / "imageforge").exists()
        # Help and commands that only read need no namespace.
        assert cli(["build", "--help"]).returncode == 0
        images = cli(["images", "--format", "json"])
        assert images.returncode == 0, images.stderr
        assert json.loads(images.stdout) == []
        # system check still reports, and says what is missing.
        check = cli(["system", "check", "--format", "json", "--progress", "quiet"])
        assert check.returncode == 10
        items = {it["name"]: it for it in json.loads(check.stdout)["items"]}
        assert items["rootless"]["ok"] is False
        assert "usermod --add-subuids" in items["rootless"]["hint"]
        assert "rootless mode is not set up for this user" in check.stderr
    finally:
        _remove_user(user)
