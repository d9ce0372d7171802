"""``build -``: the context read from stdin, as ``docker build - < context.tar`` (a tar,
compressed or not) or ``docker build - < Dockerfile`` (no context). The archive is
hostile until proven otherwise."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Literal

import pytest

from imageforge.builder import context_from_stream
from imageforge.errors import InvalidArgument
from tests.builder.conftest import ok
from tests.conftest import imageforge_cmd, requires_root, run_cli


def _tar(
    members: list[tuple[tarfile.TarInfo, bytes]], mode: Literal["w", "w:gz"] = "w:gz"
) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return out.getvalue()


def _file(name: str, data: bytes, mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def _build_stdin(root: Path, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*imageforge_cmd(), "--root", str(root), "build", "-", "--progress", "plain", *args],
        input=data,
        capture_output=True,
        timeout=300,
        check=False,
    )


@requires_root
@pytest.mark.slow
def test_a_context_tar_on_stdin_builds_with_its_modes_and_a_dockerfile_inside(
    store_with_base: Path,
) -> None:
    archive = _tar(
        [
            _file("ci/Dockerfile.ci", b"FROM busybox\nCOPY tool.sh /usr/local/bin/tool\n"),
            _file("tool.sh", b"#!/bin/sh\necho tool ran\n", 0o775),
        ]
    )
    proc = _build_stdin(store_with_base, archive, "-f", "ci/Dockerfile.ci", "-t", "s:1")
    assert proc.returncode == 0, proc.stderr.decode()
    ran = ok(
        run_cli(["--root", str(store_with_base), "run", "s:1", "ls", "-l", "/usr/local/bin/tool"])
    )
    assert ran.stdout.startswith("-rwxrwxr-x")  # the archive's mode, as Docker keeps it
    tool = ok(run_cli(["--root", str(store_with_base), "run", "s:1", "tool"]))
    assert tool.stdout == "tool ran\n"

    # A Dockerfile alone on stdin: no context, so nothing to COPY from.
    proc = _build_stdin(store_with_base, b"FROM busybox\nRUN echo alone > /x\n", "-t", "s:2")
    assert proc.returncode == 0, proc.stderr.decode()
    proc = _build_stdin(store_with_base, b"FROM busybox\nCOPY tool.sh /t\n", "-t", "s:3")
    assert proc.returncode != 0 and b"tool.sh" in proc.stderr


def _hostile(kind: str) -> tuple[tarfile.TarInfo, bytes]:
    if kind == "dotdot":
        return _file("../../escaped", b"x")
    info = tarfile.TarInfo("dev")
    if kind == "symlink-out":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink-out":
        info.type, info.linkname = tarfile.LNKTYPE, "../../../etc/passwd"
    else:
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    return info, b""


@pytest.mark.parametrize("kind", ["dotdot", "symlink-out", "hardlink-out", "device"])
def test_hostile_members_are_refused_by_name_and_nothing_escapes(tmp_path: Path, kind: str) -> None:
    member = _hostile(kind)
    archive = _tar([_file("Dockerfile", b"FROM busybox\n"), member], mode="w")
    target = tmp_path / "a" / "b" / "ctx"
    target.mkdir(parents=True)
    with pytest.raises(InvalidArgument, match=f"member {member[0].name!r} refused"):
        context_from_stream(io.BytesIO(archive), target)
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "a" / "escaped").exists()


def test_an_absolute_member_lands_inside_the_context_as_tar_puts_it(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    archive = _tar([_file(f"{outside}/file", b"x")], mode="w")
    context_from_stream(io.BytesIO(archive), tmp_path / "ctx")
    assert (tmp_path / "ctx" / str(outside).lstrip("/") / "file").read_bytes() == b"x"
    assert not outside.exists()


def test_stdin_that_is_neither_tar_nor_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="neither a tar archive nor a Dockerfile"):
        context_from_stream(io.BytesIO(b"\x00\xff\xfe garbage"), tmp_path)
    truncated = _tar([_file("Dockerfile", b"FROM busybox\n" * 200)], mode="w:gz")[:60]
    with pytest.raises(InvalidArgument, match="context archive cannot be read"):
        context_from_stream(io.BytesIO(truncated), tmp_path / "t")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["-f", "-"], b"FROM busybox\n", "CONTEXT - and -f - both read stdin"),
        (["-f", "Dockerfile"], b"FROM busybox\n", "stdin holds a Dockerfile, not a context"),
        (["-f", "../Dockerfile"], None, "-f names a file inside the archive"),
    ],
)
def test_stdin_spellings_that_cannot_work_are_refused(
    tmp_path: Path, args: list[str], stdin: bytes | None, message: str
) -> None:
    data = stdin if stdin is not None else _tar([_file("Dockerfile", b"FROM busybox\n")])
    proc = _build_stdin(tmp_path / "root", data, *args, "-t", "x:1")
    assert proc.returncode != 0
    assert message in proc.stderr.decode()
    images = run_cli(["--root", str(tmp_path / "root"), "images", "--format", "json"])
    assert json.loads(images.stdout or "[]") == []
