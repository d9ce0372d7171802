"""The overlay snapshotter and the Differ together, on real overlayfs mounts."""

from __future__ import annotations

import errno
import gzip
import io
import os
import shutil
import stat
from pathlib import Path

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.layers import (
    Entry,
    EntryType,
    LayerReader,
    LayerSource,
    diff_upper,
    extract_layers,
    opaque_whiteout_entry,
    whiteout_entry,
    write_layer,
)
from imageforge.oci import Digest
from imageforge.runtime import OverlaySnapshotter
from tests.conftest import requires_root

pytestmark = requires_root


def _tar(entries: list[tuple[Entry, bytes | None]]) -> tuple[bytes, Digest]:
    buf = io.BytesIO()
    info = write_layer(entries, buf, compression="none")
    return buf.getvalue(), info.diff_id


def _f(path: str, data: bytes, mode: int = 0o644) -> tuple[Entry, bytes]:
    return Entry(path, EntryType.FILE, size=len(data), mode=mode), data


def _d(path: str) -> tuple[Entry, None]:
    return Entry(path, EntryType.DIR, mode=0o755), None


def _apply(snap: OverlaySnapshotter, raw: bytes, diff_id: Digest) -> None:
    snap.apply(diff_id, lambda: io.BytesIO(raw))


def _stack(snap: OverlaySnapshotter) -> list[Digest]:
    base, base_id = _tar(
        [
            _d("etc"),
            _f("etc/passwd", b"root\n"),
            _f("etc/group", b"root\n"),
            _d("var"),
            _d("var/cache"),
            _f("var/cache/old", b"old\n"),
            _f("keep", b"keep\n"),
        ]
    )
    top, top_id = _tar(
        [
            (whiteout_entry("etc/group"), None),
            _d("var/cache"),
            (opaque_whiteout_entry("var/cache"), None),
            _f("var/cache/new", b"new\n"),
        ]
    )
    _apply(snap, base, base_id)
    _apply(snap, top, top_id)
    return [base_id, top_id]


def _view(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_symlink():
            out[rel] = "-> " + os.readlink(p)
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = p.read_text()
        else:
            out[rel] = "special"
    return out


def _mounts() -> str:
    return Path("/proc/self/mountinfo").read_text()


def test_applied_layers_stack_with_their_whiteouts(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    parents = _stack(snap)
    with snap.prepare(parents) as active:
        assert _view(active.merged) == {
            "etc": "dir",
            "etc/passwd": "root\n",
            "keep": "keep\n",
            "var": "dir",
            "var/cache": "dir",
            "var/cache/new": "new\n",
        }
    assert str(active.merged) not in _mounts()
    assert not active.dir.exists()


def test_a_relative_root_mounts_from_where_it_was_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `imageforge --root store build ...` names the store relative to the caller's cwd.
    monkeypatch.chdir(tmp_path)
    snap = OverlaySnapshotter(Path("snaps"))
    parents = _stack(snap)
    with snap.prepare(parents) as active:
        assert (active.merged / "etc/passwd").read_text() == "root\n"
        assert (tmp_path / "snaps").resolve() in active.merged.resolve().parents


def test_changes_in_merged_become_a_layer_that_reproduces_them(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    parents = _stack(snap)
    active = snap.prepare(parents)
    m = active.merged
    (m / "hello").write_text("hi\n")
    os.remove(m / "etc" / "passwd")
    shutil.rmtree(m / "var")
    (m / "var").mkdir()
    (m / "var" / "fresh").write_text("fresh\n")
    os.chmod(m / "keep", 0o600)
    os.link(m / "hello", m / "hello-hard")
    os.symlink("hello", m / "hello-link")
    os.mkfifo(m / "fifo")
    active.unmount()
    buf = io.BytesIO()
    info = diff_upper(active.upper, buf)
    names = {e.path: e for e in LayerReader(io.BytesIO(buf.getvalue()))}
    assert "etc/.wh.passwd" in names
    assert "var/.wh..wh..opq" in names
    assert names["hello-hard"].type is EntryType.HARDLINK
    assert all(not k.startswith("trusted.overlay") for e in names.values() for k in e.xattrs)
    # same content twice gives the same layer
    again = io.BytesIO()
    assert diff_upper(active.upper, again).digest == info.digest
    snap.commit(active, info.diff_id)
    # applying the base layers and this one by extraction gives what merged showed
    with snap.prepare([*parents, info.diff_id], readonly=True) as view:
        expected = _view(view.merged)
        with pytest.raises(OSError) as exc:
            (view.merged / "nope").write_text("x")
        assert exc.value.errno == errno.EROFS
    assert expected["hello"] == "hi\n" and "etc/passwd" not in expected
    assert expected["var/fresh"] == "fresh\n" and "var/cache" not in expected
    assert stat.S_ISFIFO(os.lstat(snap.path(info.diff_id) / "fifo").st_mode)


def test_a_wrong_diff_id_or_a_hostile_layer_leaves_no_snapshot(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    raw, _ = _tar([_f("a", b"a\n")])
    wrong = Digest("sha256:" + "0" * 64)
    with pytest.raises(DigestMismatch):
        _apply(snap, raw, wrong)
    assert not snap.has(wrong)
    assert [p.name for p in snap.layers.iterdir()] == ["empty"]
    hostile, hostile_id = _tar(
        [(Entry("evil", EntryType.SYMLINK, linkname="/etc"), None), _f("evil/passwd", b"x")]
    )
    with pytest.raises(InvalidArgument, match="symlink"):
        _apply(snap, hostile, hostile_id)
    assert not snap.has(hostile_id)


def test_many_parents_fit_in_one_mount(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    parents = []
    for i in range(60):
        raw, diff_id = _tar([_f(f"f{i:02d}", f"{i}\n".encode())])
        _apply(snap, raw, diff_id)
        parents.append(diff_id)
    with snap.prepare(parents) as active:
        assert len(os.listdir(active.merged)) == 60


def test_gzip_stream_is_not_accepted_as_uncompressed(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    raw, diff_id = _tar([_f("a", b"a\n")])
    with pytest.raises((InvalidArgument, DigestMismatch)):
        snap.apply(diff_id, lambda: io.BytesIO(gzip.compress(raw)))
    assert not snap.has(diff_id)


def test_extract_layers_reproduces_a_committed_diff(tmp_path: Path) -> None:
    snap = OverlaySnapshotter(tmp_path / "snaps")
    raw, base_id = _tar([_d("etc"), _f("etc/a", b"a\n"), _f("etc/b", b"b\n")])
    _apply(snap, raw, base_id)
    active = snap.prepare([base_id])
    os.remove(active.merged / "etc" / "a")
    (active.merged / "etc" / "c").write_text("c\n")
    active.unmount()
    buf = io.BytesIO()
    diff_upper(active.upper, buf)
    snap.remove(active)
    target = tmp_path / "rootfs"
    target.mkdir()
    (tmp_path / "base.tar").write_bytes(raw)
    (tmp_path / "top.tar.gz").write_bytes(buf.getvalue())
    extract_layers(
        [LayerSource(tmp_path / "base.tar"), LayerSource(tmp_path / "top.tar.gz")], target
    )
    assert _view(target) == {"etc": "dir", "etc/b": "b\n", "etc/c": "c\n"}


def test_several_deletions_in_one_step_are_each_a_whiteout(tmp_path: Path) -> None:
    # overlayfs hard-links every whiteout to one shared 0:0 inode
    snap = OverlaySnapshotter(tmp_path / "snaps")
    raw, base_id = _tar([_f("a", b"a\n"), _f("b", b"b\n"), _d("d"), _f("d/x", b"x\n")])
    _apply(snap, raw, base_id)
    active = snap.prepare([base_id])
    os.remove(active.merged / "a")
    os.remove(active.merged / "b")
    shutil.rmtree(active.merged / "d")
    active.unmount()
    assert os.lstat(active.upper / "b").st_nlink > 1  # the kernel behaviour this covers
    buf = io.BytesIO()
    info = diff_upper(active.upper, buf)
    names = {e.path: e.type for e in LayerReader(io.BytesIO(buf.getvalue()))}
    assert names == {".wh.a": EntryType.FILE, ".wh.b": EntryType.FILE, ".wh.d": EntryType.FILE}
    snap.commit(active, info.diff_id)
    with snap.prepare([base_id, info.diff_id], readonly=True) as view:
        assert os.listdir(view.merged) == []


def _volatile(mount_point: Path) -> bool:
    """Whether the overlay at ``mount_point`` skips syncs (``fsync=volatile`` in
    newer kernels' mountinfo, ``volatile`` in older ones)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(mount_point):
                return bool({"volatile", "fsync=volatile"} & set(fields[-1].split(",")))
    raise AssertionError(f"{mount_point} is not mounted")


def test_a_writable_snapshot_is_volatile_and_its_changes_survive_the_unmount(
    tmp_path: Path,
) -> None:
    # volatile: unmounting does not sync the whole upper filesystem (#32); what the step
    # wrote is still what the committed snapshot and its layer hold.
    snap = OverlaySnapshotter(tmp_path / "snaps")
    parents = _stack(snap)
    with snap.prepare(parents, readonly=True) as view:
        assert not _volatile(view.merged)
    with snap.prepare(parents) as active:
        assert _volatile(active.merged)
        (active.merged / "new").write_bytes(b"written\n" * 1000)
        active.unmount()
        info = diff_upper(active.upper, io.BytesIO(), compression="none")
        snap.commit(active, info.diff_id)
    assert (snap.path(info.diff_id) / "new").read_bytes() == b"written\n" * 1000


def test_a_kernel_without_volatile_overlays_still_mounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel before 5.10 answers EINVAL to the option; this one has it, so the refusal
    # is the one fault made up here.
    from imageforge.runtime._mount import mount as real

    asked: list[str] = []

    def old_kernel(source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
        asked.append(data)
        if "volatile" in data.split(","):
            raise OSError(errno.EINVAL, "overlayfs: unrecognized mount option")
        real(source, target, fstype, flags, data)

    monkeypatch.setattr("imageforge.runtime._snapshots.mount", old_kernel)
    monkeypatch.setattr(OverlaySnapshotter, "volatile_refused", False)
    snap = OverlaySnapshotter(tmp_path / "snaps")
    parents = _stack(snap)
    for _ in range(2):
        with snap.prepare(parents) as active:
            (active.merged / "f").write_text("x")
            assert not _volatile(active.merged)
    # asked once with the option, then no more
    assert ["volatile" in a.split(",") for a in asked] == [True, False, False]


def test_a_prepared_snapshot_left_by_an_older_version_is_judged_by_its_owner_file(
    tmp_path: Path,
) -> None:
    # Older versions named active snapshots by a random id and wrote the pid into
    # ``owner``; a store they used may still hold some when this version prunes.
    snap = OverlaySnapshotter(tmp_path / "snaps")
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)  # a pid no process has now
    for name, pid in (("0123456789ab", os.getpid()), ("ba9876543210", child)):
        (snap.active_dir / name / "merged").mkdir(parents=True)
        (snap.active_dir / name / "owner").write_text(str(pid))
    with snap.prepare(_stack(snap)) as mine:
        assert mine.dir.name.endswith(f"-{os.getpid()}")
        assert snap.cleanup_stale() == ["ba9876543210"]
        assert sorted(p.name for p in snap.active_dir.iterdir()) == sorted(
            ["0123456789ab", mine.dir.name]
        )
