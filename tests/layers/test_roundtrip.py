"""Writing a layer and reading or extracting it again, with real tools as the oracle."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from imageforge.layers import (
    Compression,
    Entry,
    EntryType,
    LayerInfo,
    extract_layer,
    open_layer,
    source_date_epoch,
    write_layer,
    write_layer_from_dir,
)
from imageforge.oci import media
from tests.conftest import need_binary, requires_root
from tests.layers.conftest import snapshot


def _sha256sum(path: Path) -> str:
    out = subprocess.run(
        [need_binary("sha256sum"), str(path)], capture_output=True, text=True, check=True
    )
    return "sha256:" + out.stdout.split()[0]


def _gunzip_sha256(path: Path) -> str:
    out = subprocess.run(
        f"{need_binary('gzip')} -dc '{path}' | {need_binary('sha256sum')}",
        shell=True,
        capture_output=True,
        text=True,
        check=True,
    )
    return "sha256:" + out.stdout.split()[0]


def _write(tree: Path, dst: Path, **kwargs: object) -> LayerInfo:
    with dst.open("wb") as f:
        return write_layer_from_dir(tree, f, **kwargs)  # type: ignore[arg-type]


def test_gzip_layer_round_trips_and_digests_match_sha256sum(tree: Path, tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar.gz"
    info = _write(tree, blob)
    assert info.digest == _sha256sum(blob)
    assert info.diff_id == _gunzip_sha256(blob)
    assert info.size == blob.stat().st_size
    assert info.media_type == media.OCI_LAYER_GZIP
    out = tmp_path / "out"
    out.mkdir()
    result = extract_layer(blob, out)
    assert result.info == info
    assert result.skipped == ()
    assert snapshot(out) == snapshot(tree)
    assert os.stat(out / "bin" / "tool").st_ino == os.stat(out / "deep" / "hard").st_ino
    assert oct(os.stat(out / "bin" / "tool").st_mode & 0o7777) == oct(0o4755)
    assert oct(os.stat(out / "secret").st_mode & 0o7777) == oct(0o600)


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_other_compressions_round_trip(
    tree: Path, tmp_path: Path, compression: Compression
) -> None:
    blob = tmp_path / "layer"
    info = _write(tree, blob, compression=compression)
    assert info.digest == _sha256sum(blob)
    assert blob.read_bytes()[:4] == (b"\x28\xb5\x2f\xfd" if compression == "zstd" else b"bin/")
    if compression == "none":
        assert info.diff_id == info.digest
    out = tmp_path / "out"
    out.mkdir()
    # detected from the magic bytes, cross-checked against the media type
    result = extract_layer(blob, out, expected=info.digest, media_type=info.media_type)
    assert result.info.diff_id == info.diff_id
    assert snapshot(out) == snapshot(tree)


@requires_root
def test_owners_are_kept_as_root(tree: Path, tmp_path: Path) -> None:
    for path in [tree / "secret", tree / "deep", tree / "deep" / "link"]:
        os.chown(path, 1000, 1000, follow_symlinks=False)
    blob = tmp_path / "layer.tar.gz"
    _write(tree, blob)
    with open_layer(blob) as reader:
        owners = {e.path: (e.uid, e.gid) for e in reader}
    assert owners["secret"] == (1000, 1000)
    assert owners["bin/tool"] == (0, 0)
    out = tmp_path / "out"
    out.mkdir()
    extract_layer(blob, out)
    assert snapshot(out) == snapshot(tree)
    assert os.lstat(out / "deep" / "link").st_uid == 1000


def test_same_tree_written_twice_is_byte_identical(tree: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.tgz", tmp_path / "b.tgz"
    clamp = 1_000_000
    info_a = _write(tree, a, mtime_clamp=clamp)
    os.utime(tree / "secret", (2_000_000_000, 2_000_000_000))  # a new mtime, clamped away
    info_b = _write(tree, b, mtime_clamp=clamp)
    assert a.read_bytes() == b.read_bytes()
    assert info_a == info_b
    assert a.read_bytes()[4:8] == b"\0\0\0\0"  # gzip header mtime
    with open_layer(a) as reader:
        assert {e.mtime for e in reader} == {clamp}


def test_source_date_epoch() -> None:
    assert source_date_epoch({"SOURCE_DATE_EPOCH": "1700000000"}) == 1700000000
    assert source_date_epoch({}) is None
    with pytest.raises(Exception, match="SOURCE_DATE_EPOCH"):
        source_date_epoch({"SOURCE_DATE_EPOCH": "yesterday"})


def test_entries_are_sorted_with_directories_first(tree: Path, tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar.gz"
    _write(tree, blob)
    with open_layer(blob) as reader:
        paths = [e.path for e in reader]
    assert paths == [
        "bin",
        "bin/tool",
        "deep",
        "deep/er",
        "deep/er/est",
        "deep/er/est/big",
        "deep/hard",
        "deep/link",
        "empty",
        "fifo",
        "secret",
    ]


def test_gnu_tar_extracts_our_layer(tree: Path, tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar.gz"
    _write(tree, blob)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(
        [need_binary("tar"), "-xzf", str(blob), "-C", str(out), "--numeric-owner"], check=True
    )
    assert snapshot(out) == snapshot(tree)


def test_we_read_a_gnu_tar_pax_layer(tree: Path, tmp_path: Path) -> None:
    blob = tmp_path / "gnu.tar.gz"
    subprocess.run(
        [need_binary("tar"), "--format=pax", "-czf", str(blob), "-C", str(tree), "."], check=True
    )
    with open_layer(blob) as reader:
        entries = {e.path: e for e in reader}
        info = reader.finish()
    assert info.diff_id == _gunzip_sha256(blob)
    assert info.digest == _sha256sum(blob)
    assert entries["."].type is EntryType.DIR
    assert entries["bin/tool"].mode == 0o4755
    assert entries["secret"].size == len(b"s3cret\n")
    assert entries["deep/er/est/big"].size == 300_000
    assert entries["secret"].mode == 0o600
    assert entries["deep/link"].type is EntryType.SYMLINK
    assert entries["deep/link"].linkname == "../bin/tool"
    assert entries["fifo"].type is EntryType.FIFO
    assert entries["empty"].type is EntryType.DIR
    # GNU tar walks in directory order: either path may come first and hold the data
    hard = [e for e in entries.values() if e.type is EntryType.HARDLINK]
    assert len(hard) == 1
    assert {hard[0].path, hard[0].linkname} == {"deep/hard", "bin/tool"}
    assert entries[hard[0].linkname].size == 20
    out = tmp_path / "out"
    out.mkdir()
    extract_layer(blob, out)
    assert snapshot(out) == snapshot(tree)


def test_write_from_entries_and_read_content_back(tmp_path: Path) -> None:
    long_name = "d/" + "x" * 150 + "/file-\u00e9"
    entries: list[tuple[Entry, bytes | io.BytesIO | None]] = [
        (Entry("d", EntryType.DIR, mode=0o755), None),
        (Entry(long_name, EntryType.FILE, size=5, xattrs={"user.k": b"\xff\x00v"}), b"hello"),
        (Entry("d/stream", EntryType.FILE, size=3), io.BytesIO(b"abcdef")),
    ]
    buf = io.BytesIO()
    info = write_layer(entries, buf, compression="zstd")
    buf.seek(0)
    reader = open_layer(buf, name="mine")
    got = {}
    for entry in reader:
        got[entry.path] = (entry, reader.read())
    assert reader.finish() == info
    assert got[long_name][1] == b"hello"
    assert got[long_name][0].xattrs == {"user.k": b"\xff\x00v"}
    assert got["d/stream"][1] == b"abc"


def test_finish_after_partial_iteration_gives_the_same_digests(tree: Path, tmp_path: Path) -> None:
    blob = tmp_path / "layer.tar.gz"
    info = _write(tree, blob)
    with open_layer(blob, expected=info.digest) as reader:
        for _ in reader:
            break
        assert reader.finish() == info
