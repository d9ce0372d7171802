"""COPY and ADD semantics on a plain directory standing in for the mounted rootfs."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from imageforge.builder._copy import FileHashes, apply_copy, plan_copy
from imageforge.dockerfile import Add, Copy, DockerIgnore, parse_dockerignore
from imageforge.errors import InvalidArgument, NotFound, Unsupported


def _ctx(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "src" / "pkg").mkdir(parents=True)
    (ctx / "src" / "main.py").write_text("print('hi')\n")
    (ctx / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (ctx / "a.txt").write_text("a\n")
    (ctx / "b.txt").write_text("b\n")
    (ctx / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "run.sh").chmod(0o755)
    (ctx / "secret.key").write_text("k\n")
    return ctx


def _rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\n")
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "lib").symlink_to("/usr/lib")
    return root


def _copy(
    tmp_path: Path,
    *sources: str,
    dest: str,
    workdir: str | None = None,
    ignore: DockerIgnore | None = None,
    add: bool = False,
    **kw: Any,
) -> Path:
    ctx = tmp_path / "ctx"
    root = tmp_path / "rootfs"
    cls = Add if add else Copy
    instr = cls(sources=tuple(sources), dest=dest, **kw)
    plan = plan_copy(
        instr, context=ctx, ignore=ignore or DockerIgnore(), workdir=workdir, where="Dockerfile:3"
    )
    apply_copy(plan, root)
    return root


def test_a_directory_source_copies_its_contents_owned_by_root(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    root = _copy(tmp_path, "src", dest="/app")
    assert (root / "app" / "main.py").read_text() == "print('hi')\n"
    assert (root / "app" / "pkg" / "mod.py").exists()
    assert not (root / "app" / "src").exists()
    st = os.stat(root / "app" / "main.py")
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_several_sources_need_a_directory_destination(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    with pytest.raises(InvalidArgument, match="must be a directory and end with a /"):
        _copy(tmp_path, "a.txt", "b.txt", dest="/data")
    root = _copy(tmp_path, "*.txt", dest="/data/")
    assert sorted(os.listdir(root / "data")) == ["a.txt", "b.txt"]


def test_relative_destination_is_under_workdir_and_modes_are_kept(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    root = _copy(tmp_path, "run.sh", dest="bin/", workdir="/srv")
    assert stat.S_IMODE(os.stat(root / "srv" / "bin" / "run.sh").st_mode) == 0o755


def test_chown_by_name_and_chmod(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    root = _copy(tmp_path, "a.txt", dest="/home/a.txt", chown="app:app", chmod="600")
    st = os.stat(root / "home" / "a.txt")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o600)


def test_dockerignore_keeps_files_out_of_directory_copies_and_named_sources(
    tmp_path: Path,
) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    ignore = parse_dockerignore("*.key\nsrc/pkg\n", source=".dockerignore")
    root = _copy(tmp_path, ".", dest="/app/", ignore=ignore)
    assert (root / "app" / "a.txt").exists()
    assert not (root / "app" / "secret.key").exists()
    assert not (root / "app" / "src" / "pkg").exists()
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        _copy(tmp_path, "secret.key", dest="/x", ignore=ignore)


def test_missing_sources_and_paths_outside_the_context_are_refused(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    with pytest.raises(NotFound, match="Dockerfile:3.*nope.txt.*not found"):
        _copy(tmp_path, "nope.txt", dest="/x")
    with pytest.raises(InvalidArgument, match="outside the build context"):
        _copy(tmp_path, "../outside", dest="/x")


def test_a_symlink_leading_out_of_the_context_is_refused(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    (tmp_path / "outside.txt").write_text("host secret\n")
    (ctx / "link").symlink_to(tmp_path / "outside.txt")
    with pytest.raises(InvalidArgument, match="symlink .* outside the build context"):
        _copy(tmp_path, "link", dest="/x")
    assert not (tmp_path / "rootfs" / "x").exists()


def test_writes_through_image_symlinks_stay_in_the_rootfs(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    root = _copy(tmp_path, "a.txt", dest="/lib/")
    assert (root / "usr" / "lib" / "a.txt").read_text() == "a\n"


def test_a_destination_through_a_symlink_to_missing_directories_makes_them(
    tmp_path: Path,
) -> None:
    # As Docker's COPY: /link -> /opt/missing/dir, none of which exists yet.
    _ctx(tmp_path)
    root = _rootfs(tmp_path)
    (root / "link").symlink_to("/opt/missing/dir")
    _copy(tmp_path, "a.txt", dest="/link/sub/a.txt")
    assert (root / "opt" / "missing" / "dir" / "sub" / "a.txt").read_text() == "a\n"
    assert (root / "link").is_symlink()
    assert not (tmp_path / "opt").exists()


def test_add_unpacks_a_local_gzip_tar_and_refuses_urls(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    with tarfile.open(ctx / "bundle.tar.gz", "w:gz") as tar:
        data = b"inside\n"
        info = tarfile.TarInfo("pkg/inside.txt")
        info.size = len(data)
        info.mode = 0o640
        info.uid = 7
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../escape.txt")
        evil.size = 1
        tar.addfile(evil, io.BytesIO(b"x"))
    root = _copy(tmp_path, "bundle.tar.gz", dest="/opt/", add=True)
    st = os.stat(root / "opt" / "pkg" / "inside.txt")
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o640, 7)
    assert not (tmp_path / "escape.txt").exists()
    assert (root / "opt" / "escape.txt").exists()  # '..' stops at the destination
    with pytest.raises(Unsupported, match="URL"):
        _copy(tmp_path, "https://example.com/x.tgz", dest="/opt/", add=True)


def test_copy_plan_digest_changes_with_content(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    instr = Copy(sources=("src",), dest="/app")
    first = plan_copy(instr, context=ctx, ignore=DockerIgnore(), workdir=None, where="D:1").digest()
    (ctx / "src" / "pkg" / "mod.py").write_text("x = 2\n")
    second = plan_copy(instr, context=ctx, ignore=DockerIgnore(), workdir=None, where="D:1")
    assert first != second.digest()
    assert (
        second.digest()
        == plan_copy(instr, context=ctx, ignore=DockerIgnore(), workdir=None, where="D:1").digest()
    )


def test_exclude_leaves_out_matches_in_directories_and_wildcards(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    (ctx / "src" / "notes.txt").write_text("n\n")
    (ctx / "src" / "pkg" / "data.txt").write_text("d\n")
    root = _copy(tmp_path, "src", dest="/app", exclude=("*.txt", "**/*.txt"))
    assert (root / "app" / "main.py").exists() and (root / "app" / "pkg" / "mod.py").exists()
    assert not (root / "app" / "notes.txt").exists()
    assert not (root / "app" / "pkg" / "data.txt").exists()
    root = _copy(tmp_path, "*.txt", "run.sh", dest="/w/", exclude=("b.txt",))
    assert sorted(os.listdir(root / "w")) == ["a.txt", "run.sh"]


def test_parents_keeps_the_source_paths_under_dest(tmp_path: Path) -> None:
    _ctx(tmp_path)
    _rootfs(tmp_path)
    root = _copy(tmp_path, "src/pkg/mod.py", "src/main.py", dest="/p/", parents=True)
    assert (root / "p" / "src" / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert (root / "p" / "src" / "main.py").exists()
    root = _copy(tmp_path, "src/./pkg", dest="/q/", parents=True)
    assert (root / "q" / "pkg" / "mod.py").exists()


def test_add_downloads_a_url_and_checks_its_checksum(tmp_path: Path) -> None:
    import functools
    import hashlib
    import http.server
    import threading

    from imageforge.errors import DigestMismatch

    _ctx(tmp_path)
    _rootfs(tmp_path)
    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.tar.gz").write_bytes(b"not really a tarball\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/tool.tar.gz"
        good = "sha256:" + hashlib.sha256(b"not really a tarball\n").hexdigest()
        ctx = tmp_path / "ctx"
        root = tmp_path / "rootfs"
        downloads = tmp_path / "dl"
        downloads.mkdir()
        instr = Add(sources=(url,), dest="/opt/", checksum=good)
        plan = plan_copy(
            instr,
            context=ctx,
            ignore=DockerIgnore(),
            workdir=None,
            where="Dockerfile:4",
            downloads=downloads,
        )
        apply_copy(plan, root)
        st = os.stat(root / "opt" / "tool.tar.gz")
        assert stat.S_IMODE(st.st_mode) == 0o600  # downloaded, not unpacked
        bad = Add(sources=(url,), dest="/opt/", checksum="sha256:" + "0" * 64)
        with pytest.raises(DigestMismatch, match="Dockerfile:4"):
            plan_copy(
                bad,
                context=ctx,
                ignore=DockerIgnore(),
                workdir=None,
                where="Dockerfile:4",
                downloads=downloads,
            )
        missing = Add(sources=(url + ".nope",), dest="/opt/")
        with pytest.raises(NotFound, match="404"):
            plan_copy(
                missing,
                context=ctx,
                ignore=DockerIgnore(),
                workdir=None,
                where="Dockerfile:4",
                downloads=downloads,
            )
    finally:
        server.shutdown()
        server.server_close()


def _tar_with(path: Path, *members: tuple[str, str, str]) -> None:
    """A tar of (name, type, link target or content) members: f file, l hardlink, s symlink,
    d directory."""
    with tarfile.open(path, "w") as tar:
        for name, kind, value in members:
            info = tarfile.TarInfo(name)
            if kind == "f":
                data = value.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
                continue
            info.type = {"l": tarfile.LNKTYPE, "s": tarfile.SYMTYPE, "d": tarfile.DIRTYPE}[kind]
            info.linkname = value
            tar.addfile(info)


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ((("h", "l", "../../../../etc/shadow"),), "outside the destination"),
        ((("h", "l", "etc/shadow"),), "which no earlier member of the archive created"),
        ((("d", "d", ""), ("h", "l", "d")), "which is a directory"),
        ((("a", "f", "x"), ("a/b", "f", "y")), "is not a directory"),
    ],
)
def test_add_refuses_an_archive_member_it_cannot_place_naming_it(
    tmp_path: Path, members: tuple[tuple[str, str, str], ...], why: str
) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    _tar_with(ctx / "evil.tar", *members)
    with pytest.raises(InvalidArgument) as caught:
        _copy(tmp_path, "evil.tar", dest="/d/", add=True)
    message = str(caught.value)
    assert message.startswith(f"Dockerfile:3: ADD evil.tar: member {members[-1][0]!r}")
    assert why in message


def test_add_hardlink_to_a_symlink_links_the_symlink_not_what_it_points_to(
    tmp_path: Path,
) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    _tar_with(ctx / "links.tar", ("s", "s", "/etc/passwd"), ("h", "l", "s"), ("f", "f", "1"))
    root = _copy(tmp_path, "links.tar", dest="/d/", add=True)
    assert os.readlink(root / "d" / "h") == "/etc/passwd"
    assert os.lstat(root / "d" / "h").st_ino == os.lstat(root / "d" / "s").st_ino


def test_add_of_a_corrupt_archive_names_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    _tar_with(tmp_path / "whole.tar", ("big", "f", "".join(map(str, range(20000)))))
    (ctx / "cut.tar.gz").write_bytes(gzip.compress((tmp_path / "whole.tar").read_bytes())[:-40])
    with pytest.raises(InvalidArgument, match="ADD cut.tar.gz: cannot unpack the archive"):
        _copy(tmp_path, "cut.tar.gz", dest="/d/", add=True)


def test_add_of_a_fifo_copies_it_without_opening_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    _rootfs(tmp_path)
    os.mkfifo(ctx / "pipe")  # opening it to sniff an archive would wait for a writer
    root = _copy(tmp_path, "pipe", dest="/d/", add=True)
    assert stat.S_ISFIFO(os.lstat(root / "d" / "pipe").st_mode)


def _planned(tmp_path: Path, *sources: str, dest: str) -> Any:
    return plan_copy(
        Copy(sources=tuple(sources), dest=dest),
        context=tmp_path / "ctx",
        ignore=DockerIgnore(),
        workdir=None,
        where="Dockerfile:3",
    )


def test_the_copy_writes_what_its_cache_key_was_made_from(tmp_path: Path) -> None:
    """The copy after the cache key's scan copies the files that scan saw, with the
    content it hashed, not what the context holds by then."""
    ctx = _ctx(tmp_path)
    root = _rootfs(tmp_path)
    plan = _planned(tmp_path, "src", "a.txt", dest="/app/")
    key = plan.digest(FileHashes())
    (ctx / "src" / "main.py").write_text("print('changed after the key was taken')\n")
    (ctx / "a.txt").write_text("changed too\n")
    (ctx / "src" / "late.py").write_text("added after the key was taken\n")
    apply_copy(plan, root)
    assert (root / "app" / "main.py").read_text() == "print('hi')\n"
    assert (root / "app" / "a.txt").read_text() == "a\n"
    assert not (root / "app" / "late.py").exists()
    assert plan.digest(FileHashes()) != key  # a new plan would see the change


def test_a_copy_without_a_cache_key_reads_the_context_when_it_runs(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    root = _rootfs(tmp_path)
    plan = _planned(tmp_path, "src", dest="/app/")
    (ctx / "src" / "main.py").write_text("print('now')\n")
    apply_copy(plan, root)
    assert (root / "app" / "main.py").read_text() == "print('now')\n"


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 5])
def test_files_of_every_size_are_copied_whole_with_their_metadata(
    tmp_path: Path, size: int
) -> None:
    """Around the sizes where the scan keeps a file's content or not and where reads
    are split, the copy holds the file byte for byte, with its mode and mtime."""
    ctx = _ctx(tmp_path)
    root = _rootfs(tmp_path)
    data = os.urandom(size)
    (ctx / "src" / "blob").write_bytes(data)
    os.chmod(ctx / "src" / "blob", 0o640)
    os.utime(ctx / "src" / "blob", ns=(1_000_000_000, 1_234_567_890_123_456_789))
    for plan in (
        _planned(tmp_path, "src", dest="/app/"),
        _planned(tmp_path, "src/blob", dest="/one"),
    ):
        plan.digest(FileHashes())
        apply_copy(plan, root)
    for copied in (root / "app" / "blob", root / "one"):
        assert copied.read_bytes() == data
        st = os.stat(copied)
        assert stat.S_IMODE(st.st_mode) == 0o640
        assert st.st_mtime_ns == 1_234_567_890_123_456_789


def test_a_large_file_that_grows_after_the_scan_is_copied_to_its_end(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    root = _rootfs(tmp_path)
    (ctx / "src" / "log").write_bytes(b"x" * (1 << 17))  # too big for the scan to keep
    plan = _planned(tmp_path, "src", dest="/app/")
    plan.digest(FileHashes())
    with open(ctx / "src" / "log", "ab") as f:
        f.write(b"tail")
    apply_copy(plan, root)
    assert (root / "app" / "log").read_bytes() == b"x" * (1 << 17) + b"tail"


def test_copying_over_an_existing_tree_replaces_what_is_in_the_way(tmp_path: Path) -> None:
    """A destination that already holds the names (a file where a directory comes, a
    directory where a file comes) is made to match the source, as before."""
    _ctx(tmp_path)
    root = _rootfs(tmp_path)
    (root / "app" / "main.py").mkdir(parents=True)
    (root / "app" / "main.py" / "old").write_text("old")
    (root / "app" / "pkg").write_text("a file where a directory comes")
    plan = _planned(tmp_path, "src", dest="/app/")
    plan.digest(FileHashes())
    apply_copy(plan, root)
    assert (root / "app" / "main.py").read_text() == "print('hi')\n"
    assert (root / "app" / "pkg" / "mod.py").read_text() == "x = 1\n"
