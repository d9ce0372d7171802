"""Extraction: OCI whiteouts across layers, and hostile layers built with tarfile."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.layers import (
    Entry,
    EntryType,
    LayerSource,
    extract_layer,
    extract_layers,
    opaque_whiteout_entry,
    whiteout_entry,
    write_layer,
)
from imageforge.oci import digest_bytes


def _layer(entries: list[tuple[Entry, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    write_layer(entries, buf)
    return buf.getvalue()


def _file(path: str, data: bytes) -> tuple[Entry, bytes]:
    return Entry(path, EntryType.FILE, size=len(data)), data


def _dir(path: str) -> tuple[Entry, None]:
    return Entry(path, EntryType.DIR, mode=0o755), None


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_whiteouts_delete_and_make_directories_opaque(tmp_path: Path) -> None:
    lower = _layer(
        [
            _dir("a"),
            _file("a/keep", b"1"),
            _file("a/gone", b"2"),
            _dir("a/gonedir"),
            _file("a/gonedir/x", b"3"),
            _dir("b"),
            _file("b/old", b"4"),
            _dir("b/sub"),
            _file("b/sub/old2", b"5"),
        ]
    )
    upper = _layer(
        [
            (whiteout_entry("a/gone"), b""),
            (whiteout_entry("a/gonedir"), b""),
            (whiteout_entry("a/never-existed"), b""),
            _dir("b"),
            _file("b/new", b"6"),  # same layer as the opaque marker: kept
            (opaque_whiteout_entry("b"), b""),
            _file("b/sub/new2", b"7"),
        ]
    )
    target = tmp_path / "rootfs"
    target.mkdir()
    results = extract_layers(
        [
            LayerSource(io.BytesIO(lower), digest=digest_bytes(lower), name="lower"),
            LayerSource(io.BytesIO(upper), digest=digest_bytes(upper), name="upper"),
        ],
        target,
    )
    assert [r.entries for r in results] == [9, 7]
    assert _tree(target) == {"a", "a/keep", "b", "b/new", "b/sub", "b/sub/new2"}
    assert (target / "b" / "sub" / "new2").read_bytes() == b"7"


def _hostile(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = ""
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    if kind == tarfile.REGTYPE:
        info.size = len(data)
        return info, data
    return info, None


@pytest.fixture
def area(tmp_path: Path) -> tuple[Path, Path]:
    """A target directory and an 'outside' directory beside it that must stay empty."""
    target = tmp_path / "t" / "root"
    target.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    return target, outside


def test_dotdot_entry_is_refused(area: tuple[Path, Path]) -> None:
    target, outside = area
    blob = _hostile(_member("../../outside/x", data=b"pwned"))
    with pytest.raises(InvalidArgument, match=r"layer evil: entry '\.\./\.\./outside/x'.*'\.\.'"):
        extract_layer(io.BytesIO(blob), target, name="evil")
    assert list(outside.iterdir()) == []
    assert list(target.iterdir()) == []


def test_file_through_symlink_to_outside_is_refused(area: tuple[Path, Path]) -> None:
    target, outside = area
    blob = _hostile(
        _member("evil", tarfile.SYMTYPE, link=str(outside)),
        _member("evil/passwd", data=b"root::0:0::/:/bin/sh\n"),
    )
    with pytest.raises(
        InvalidArgument, match=r"layer evil: entry 'evil/passwd': its parent 'evil' is a symlink"
    ):
        extract_layer(io.BytesIO(blob), target, name="evil")
    assert list(outside.iterdir()) == []
    # the symlink itself is created as-is; it is only never followed
    assert os.readlink(target / "evil") == str(outside)


def test_symlink_to_etc_is_not_followed(area: tuple[Path, Path]) -> None:
    target, _ = area
    before = Path("/etc/passwd").read_bytes()
    blob = _hostile(
        _member("etc2", tarfile.SYMTYPE, link="/etc"), _member("etc2/passwd", data=b"x")
    )
    with pytest.raises(InvalidArgument, match="'etc2' is a symlink"):
        extract_layer(io.BytesIO(blob), target, name="evil")
    assert Path("/etc/passwd").read_bytes() == before


def test_hardlink_out_of_the_target_is_refused(area: tuple[Path, Path]) -> None:
    target, outside = area
    secret = outside / "secret"
    secret.write_text("do not link me")
    blob = _hostile(_member("link", tarfile.LNKTYPE, link="../../outside/secret"))
    with pytest.raises(InvalidArgument, match=r"layer evil: hardlink 'link'.*'\.\.'"):
        extract_layer(io.BytesIO(blob), target, name="evil")
    assert secret.stat().st_nlink == 1
    assert list(target.iterdir()) == []


def test_hardlink_to_a_missing_path_is_refused(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = _hostile(_member("link", tarfile.LNKTYPE, link="/etc/passwd"))
    with pytest.raises(
        InvalidArgument, match=r"entry 'link': hardlink target 'etc/passwd' does not exist inside"
    ):
        extract_layer(io.BytesIO(blob), target, name="evil")
    assert list(target.iterdir()) == []


def test_absolute_path_is_stripped_into_the_target(area: tuple[Path, Path]) -> None:
    target, outside = area
    blob = _hostile(_member(f"{outside}/abs", data=b"inside"))
    result = extract_layer(io.BytesIO(blob), target, name="abs")
    assert result.entries == 1
    assert list(outside.iterdir()) == []
    assert (target / str(outside).lstrip("/") / "abs").read_bytes() == b"inside"


def test_truncated_gzip_is_refused_and_leaves_no_partial_file(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = _hostile(_member("big", data=os.urandom(200_000)))
    with pytest.raises(InvalidArgument, match=r"layer cut: gzip stream is truncated"):
        extract_layer(io.BytesIO(blob[: len(blob) // 2]), target, name="cut")
    assert list(target.iterdir()) == []  # the temporary file was removed


def test_wrong_digest_is_refused(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = _hostile(_member("f", data=b"content"))
    wrong = digest_bytes(b"something else")
    with pytest.raises(DigestMismatch, match=rf"layer {wrong}: content has digest sha256:"):
        extract_layer(io.BytesIO(blob), target, expected=wrong)


def test_media_type_must_match_the_content(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = _hostile(_member("f", data=b"content"))
    with pytest.raises(InvalidArgument, match="says zstd, but the content is gzip"):
        extract_layer(
            io.BytesIO(blob), target, media_type="application/vnd.oci.image.layer.v1.tar+zstd"
        )


def test_garbage_is_not_a_layer(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = gzip.compress(b"this is not a tar archive" * 40, mtime=0)
    with pytest.raises(InvalidArgument, match="layer junk: invalid tar header at offset 0"):
        extract_layer(io.BytesIO(blob), target, name="junk")


def test_later_entry_replaces_earlier_one(area: tuple[Path, Path]) -> None:
    target, _ = area
    blob = _layer([_dir("x"), _file("x/f", b"1"), _file("x", b"now a file")])
    extract_layer(io.BytesIO(blob), target)
    assert (target / "x").read_bytes() == b"now a file"
