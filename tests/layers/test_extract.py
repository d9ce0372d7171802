"""Extraction: OCI whiteouts across layers, and hostile layers built with tarfile."""

from __future__ import annotations

import gzip
import io
import os
import stat
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


# -- kept directory descriptors and names made directly (#32) ---------------------------
# The extractor keeps the descriptors of directories it resolved for the next entries
# and, into a ``fresh`` target, makes regular files under their own names. A directory
# that a later entry of the same layer turns into a symlink or a file must be resolved
# afresh, so what follows through it is refused as before.

both_modes = pytest.mark.parametrize("fresh", [False, True], ids=["existing", "fresh"])


@both_modes
@pytest.mark.parametrize("overlay", [False, True], ids=["plain", "overlay-whiteouts"])
def test_directory_replaced_by_a_symlink_is_not_written_through(
    area: tuple[Path, Path], fresh: bool, overlay: bool
) -> None:
    target, outside = area
    blob = _hostile(
        _member("d", tarfile.DIRTYPE),
        _member("d/sub", tarfile.DIRTYPE),
        _member("d/sub/f", data=b"inside"),
        _member("d", tarfile.SYMTYPE, link=str(outside)),
        _member("d/sub/passwd", data=b"pwned"),
    )
    with pytest.raises(InvalidArgument, match=r"entry 'd/sub/passwd': its parent 'd' is a symlink"):
        extract_layer(io.BytesIO(blob), target, name="evil", fresh=fresh, overlay_whiteouts=overlay)
    assert list(outside.iterdir()) == []
    assert os.readlink(target / "d") == str(outside)


@both_modes
def test_hardlink_through_a_replaced_directory_is_refused(
    area: tuple[Path, Path], fresh: bool
) -> None:
    target, outside = area
    (outside / "secret").write_text("do not link me")
    blob = _hostile(
        _member("a", tarfile.DIRTYPE),
        _member("a/secret", data=b"mine"),
        _member("a", tarfile.SYMTYPE, link=str(outside)),
        _member("h", tarfile.LNKTYPE, link="a/secret"),
    )
    with pytest.raises(InvalidArgument, match=r"entry 'h': its parent 'a' is a symlink"):
        extract_layer(io.BytesIO(blob), target, name="evil", fresh=fresh)
    assert (outside / "secret").stat().st_nlink == 1


@both_modes
def test_directory_replaced_by_a_file_has_no_children(area: tuple[Path, Path], fresh: bool) -> None:
    target, _ = area
    blob = _layer(
        [_dir("x"), _dir("x/y"), _file("x/y/f", b"1"), _file("x", b"file"), _file("x/y/g", b"2")]
    )
    with pytest.raises(InvalidArgument, match=r"entry 'x/y/g': its parent 'x' is not a directory"):
        extract_layer(io.BytesIO(blob), target, name="odd", fresh=fresh)
    assert (target / "x").read_bytes() == b"file"


def test_opaque_directory_made_again_below_a_symlink_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    lower = _layer([_dir("d"), _dir("d/sub"), _file("d/sub/old", b"old"), _file("d/gone", b"x")])
    upper = _hostile(
        _member("d/sub/new", data=b"new"),  # resolves (and keeps) d and d/sub
        _member("d/.wh..wh..opq"),  # removes d/gone, keeps d/sub (this layer's)
        _member("d/sub", tarfile.SYMTYPE, link=str(outside)),
        _member("d/sub/passwd", data=b"pwned"),
    )
    target = tmp_path / "root"
    target.mkdir()
    extract_layer(io.BytesIO(lower), target, fresh=True)
    with pytest.raises(
        InvalidArgument, match=r"entry 'd/sub/passwd': its parent 'd/sub' is a symlink"
    ):
        extract_layer(io.BytesIO(upper), target, name="evil")
    assert list(outside.iterdir()) == []
    assert _tree(target) == {"d", "d/sub"}


@both_modes
def test_failed_file_leaves_no_partial_file(area: tuple[Path, Path], fresh: bool) -> None:
    target, _ = area
    blob = _hostile(_member("ok", data=b"whole"), _member("big", data=os.urandom(200_000)))
    with pytest.raises(InvalidArgument, match=r"layer cut: gzip stream is truncated"):
        extract_layer(io.BytesIO(blob[: len(blob) // 2]), target, name="cut", fresh=fresh)
    assert _tree(target) == {"ok"}


@both_modes
def test_a_name_listed_twice_holds_the_last_entry(area: tuple[Path, Path], fresh: bool) -> None:
    target, _ = area
    blob = _hostile(
        _member("f", data=b"first"),
        _member("f", data=b"second"),
        _member("s", tarfile.SYMTYPE, link="one"),
        _member("s", tarfile.SYMTYPE, link="two"),
        _member("fs", data=b"a file first"),
        _member("fs", tarfile.SYMTYPE, link="f"),
        _member("p", tarfile.FIFOTYPE),
        _member("p", tarfile.LNKTYPE, link="f"),
    )
    extract_layer(io.BytesIO(blob), target, fresh=fresh)
    assert (target / "f").read_bytes() == b"second"
    assert os.readlink(target / "s") == "two"
    assert os.readlink(target / "fs") == "f"
    assert (target / "p").stat().st_ino == (target / "f").stat().st_ino
    assert _tree(target) == {"f", "s", "fs", "p"}  # no temporary name left


@both_modes
def test_many_directories_are_extracted_without_keeping_descriptors(
    area: tuple[Path, Path], fresh: bool
) -> None:
    target, _ = area
    entries: list[tuple[Entry, bytes | None]] = []
    for i in range(150):  # more directories than are kept open at once
        entries.append(_dir(f"top{i % 3}/d{i}"))
        entries.append(_file(f"top{i % 3}/d{i}/f", str(i).encode()))
    for i in range(0, 150, 7):  # and back to directories resolved long before
        entries.append(_file(f"top{i % 3}/d{i}/late", b"late"))
    blob = _layer(entries)
    before = len(os.listdir("/proc/self/fd"))
    extract_layer(io.BytesIO(blob), target, fresh=fresh)
    assert len(os.listdir("/proc/self/fd")) == before
    for i in range(150):
        assert (target / f"top{i % 3}" / f"d{i}" / "f").read_bytes() == str(i).encode()
        assert (target / f"top{i % 3}" / f"d{i}" / "late").exists() == (i % 7 == 0)
        assert stat.S_IMODE((target / f"top{i % 3}" / f"d{i}").stat().st_mode) == 0o755
