"""``build --isolation none`` (Kaniko's way): one plain root, RUN chrooted, changes found
by comparing snapshots. The differential cases built so give the same root filesystem
and config as the normal builder (runc over overlay) from the same base; deletions are
whiteouts; a symlink pointing out of the root is never followed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from imageforge.builder import RootDiffer, RootSnapshotter
from imageforge.errors import InvalidArgument
from imageforge.layers import Differ, Entry, EntryType, LayerSource, extract_layers
from imageforge.oci import digest_bytes
from imageforge.runtime import Snapshotter
from imageforge.testing import DifferContract, SnapshotterContract
from imageforge.testing.snapshotter import file_entry, layer_tar, tree
from tests.builder.conftest import ok
from tests.builder.rootless_user import cli_for, make_user, readable_code, remove_user
from tests.builder.test_buildah_diff import (
    _BUILD_ARGS,
    _FIELDS,
    CASES,
    _config,
    _make_context,
    _unpack,
)
from tests.builder.test_buildah_diff import tree as image_tree
from tests.conftest import requires_root, run_cli

pytestmark = [requires_root]


def _build(store: Path, ctx: Path, out: Path, tag: str, *extra: str) -> str:
    proc = ok(
        run_cli(
            [
                "--root",
                str(store),
                "build",
                str(ctx),
                *extra,
                "--progress",
                "plain",
                "--output",
                f"oci:{out}:{tag}",
            ],
            timeout=300,
        )
    )
    return proc.stderr


def _layer_members(layout: Path, tag: str) -> list[list[tarfile.TarInfo]]:
    """The members of each layer of ``tag`` in an OCI layout, bottom first."""
    import json

    index = json.loads((layout / "index.json").read_text())
    desc = next(
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    )
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / desc["digest"].split(":")[1]).read_text())
    out = []
    for layer in manifest["layers"]:
        data = (blobs / layer["digest"].split(":")[1]).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            out.append(tar.getmembers())
    return out


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_differential_cases_equal_the_normal_builders(
    case: str, tmp_path: Path, base_layout: Path
) -> None:
    ctx = _make_context(tmp_path / "ctx", case, f"oci:{base_layout}:busybox")
    args = _BUILD_ARGS.get(case, [])
    normal, none = tmp_path / "normal", tmp_path / "none"
    _build(tmp_path / "store-a", ctx, normal, case, *args)
    log = _build(tmp_path / "store-b", ctx, none, case, *args, "--isolation", "none")
    assert "isolation none" in log
    for field in _FIELDS:
        assert _config(none, case).get(field) == _config(normal, case).get(field), field
    theirs = image_tree(_unpack(normal, case, tmp_path / "u-normal"))
    ours = image_tree(_unpack(none, case, tmp_path / "u-none"))
    assert ours == theirs
    # the same history, one entry per step, the same ones empty
    history = [
        (h.get("created_by"), bool(h.get("empty_layer")))
        for h in _config(none, case, whole=True)["history"]  # type: ignore[attr-defined]
    ]
    normal_history = [
        (h.get("created_by"), bool(h.get("empty_layer")))
        for h in _config(normal, case, whole=True)["history"]  # type: ignore[attr-defined]
    ]
    assert history == normal_history


def test_a_deleted_base_file_is_a_whiteout_and_a_replaced_dir_opaque(
    tmp_path: Path, base_layout: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\n"
        "RUN rm /etc/group && rm -rf /home && mkdir /home && echo new > /home/new\n"
        "RUN echo same > /etc/passwd.new && touch /var\n"
    )
    out = tmp_path / "out"
    _build(tmp_path / "store", ctx, out, "t", "--isolation", "none")
    layers = _layer_members(out, "t")
    first = {m.name for m in layers[-2]}
    assert "etc/.wh.group" in first
    assert "home/.wh..wh..opq" in first or "home/.wh.app" not in first
    assert "home/new" in first
    assert not any(n.startswith("bin") for n in first)  # unchanged files stay out
    second = {m.name for m in layers[-1]}
    assert "etc/passwd.new" in second
    assert "etc/passwd" not in second


def test_a_symlink_out_of_the_root_is_not_followed(tmp_path: Path, base_layout: Path) -> None:
    """The attack: links in the image to the host's /etc and / itself. COPY through them
    writes inside the build root; the comparison stores the links as links and never
    walks or reads the host through them."""
    secret = tmp_path / "host-secret"
    secret.write_text("the host's secret\n")
    victim_dir = tmp_path / "host-dir"
    victim_dir.mkdir()
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "payload").write_text("payload\n")
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\n"
        f"RUN ln -s {secret} /leak && ln -s / /hostroot && ln -s {victim_dir} /victim\n"
        f"RUN mkdir -p {victim_dir}\n"  # the same path inside the root, where COPY lands
        "COPY payload /victim/payload\n"
        "RUN echo changed > /tmp/x\n"
    )
    out = tmp_path / "out"
    _build(tmp_path / "store", ctx, out, "t", "--isolation", "none")
    assert list(victim_dir.iterdir()) == []  # COPY wrote into the root, not the host
    assert secret.read_text() == "the host's secret\n"
    members = [m for layer in _layer_members(out, "t") for m in layer]
    by_name = {m.name: m for m in members}
    assert by_name["leak"].issym() and by_name["leak"].linkname == str(secret)
    assert by_name["hostroot"].issym()
    assert not any(m.name.startswith("hostroot/") for m in members)
    assert by_name[f"{str(victim_dir).strip('/')}/payload"].isfile()  # inside the image
    assert not any(m.isfile() and m.size == len("the host's secret\n") for m in members)


@pytest.mark.slow
def test_a_non_root_uid_is_refused_clearly(tmp_path: Path) -> None:
    """A real unprivileged process (no user namespace either) asks for the build."""
    user = make_user(with_ranges=False)
    try:
        with readable_code() as code:
            cli = cli_for(user, code)
            ctx = user.home / "ctx"
            ctx.mkdir()
            (ctx / "Dockerfile").write_text("FROM scratch\nRUN true\n")
            os.chown(ctx, user.uid, user.gid)
            proc = cli(["build", str(ctx), "--isolation", "none", "-t", "x"])
    finally:
        remove_user(user)
    assert proc.returncode != 0
    assert f"--isolation none runs as uid 0 and this process runs as uid {user.uid}" in (
        proc.stderr
    )
    assert "run the build container as root" in proc.stderr


def test_run_network_none_is_refused_clearly(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\nRUN --network=none echo hi > /x\n"
    )
    proc = run_cli(
        ["--root", str(tmp_path / "store"), "build", str(ctx), "--isolation", "none", "-t", "x"]
    )
    assert proc.returncode != 0
    assert "cannot cut a RUN off the network" in proc.stderr


def test_resource_limits_are_refused_clearly(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{base_layout}:busybox\nRUN echo hi > /x\n")
    proc = run_cli(
        ["--root", str(tmp_path / "store"), "build", str(ctx), "--isolation", "none",
         "--memory", "256m", "-t", "x"]
    )  # fmt: skip
    assert proc.returncode != 0
    assert "--isolation none cannot limit RUN steps" in proc.stderr


def test_the_run_sees_its_user_env_and_workdir(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\n"
        "ENV GREETING=hello\nUSER app\nWORKDIR /home/app\n"
        'RUN echo "$GREETING $(id -u):$(id -g) $(pwd)" > seen && ls / > /tmp/root-listing\n'
    )
    out = tmp_path / "out"
    _build(tmp_path / "store", ctx, out, "t", "--isolation", "none")
    rootfs = _unpack(out, "t", tmp_path / "u")
    assert (rootfs / "home/app/seen").read_text() == "hello 1000:1000 /home/app\n"
    listing = (rootfs / "tmp/root-listing").read_text().split()
    assert "bin" in listing and "imageforge-build-root" not in " ".join(listing)


# -- the seams' contract suites, run against the one-root implementations -------------


class TestRootSnapshotterContract(SnapshotterContract):
    """The Snapshotter contract. Where it checks what only mounts give (a read-only
    mount's EROFS, lowerdirs, mounts a dead process left), the test says what the one
    root does instead."""

    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> RootSnapshotter:
        return RootSnapshotter(tmp_path / "snapshots")

    def test_committed_changes_are_a_snapshot_the_next_one_stacks(
        self, snapshotter: Snapshotter
    ) -> None:
        """A read-only view is a plain directory of its own (no mount, so no EROFS):
        writing to it changes nothing the build keeps."""
        parents = self._stack(snapshotter)
        snapshot = snapshotter.prepare(parents)
        (snapshot.merged / "hello").write_text("hi\n")
        os.remove(snapshot.merged / "etc" / "passwd")
        snapshot.unmount()
        assert (snapshot.upper / "hello").read_text() == "hi\n"
        assert (snapshot.upper / "etc" / ".wh.passwd").exists()
        made = digest_bytes(b"the diff_id the Differ would give")
        snapshotter.commit(snapshot, made)
        assert snapshotter.has(made)
        with snapshotter.prepare([*parents, made], readonly=True) as view:
            seen = tree(view.merged)
            (view.merged / "scribble").write_text("x")
        assert seen["hello"] == "hi\n" and "etc/passwd" not in seen
        with snapshotter.prepare([*parents, made]) as again:
            assert not (again.merged / "scribble").exists()

    def test_lowers_are_the_parents_topmost_first(self, snapshotter: Snapshotter) -> None:
        """No lowers: the comparison reads the record taken when the root was prepared."""
        parents = self._stack(snapshotter)
        with snapshotter.prepare(parents) as snapshot:
            assert snapshotter.lowers(snapshot) == []
            assert (snapshot.merged / "var" / "cache" / "new").read_text() == "new\n"

    def test_a_layer_escaping_its_root_leaves_no_snapshot(self, snapshotter: Snapshotter) -> None:
        """The layer is kept as its verified tar and refused when it is unpacked: the
        file behind the symlink (the host's /etc/passwd) is never written."""
        raw, diff_id = layer_tar(
            [
                (Entry("evil", EntryType.SYMLINK, linkname="/etc"), None),
                file_entry("evil/passwd", b"x"),
            ]
        )
        before = Path("/etc/passwd").read_bytes()
        snapshotter.apply(diff_id, lambda: io.BytesIO(raw))
        with pytest.raises(InvalidArgument, match="symlink"):
            snapshotter.prepare([diff_id])
        assert Path("/etc/passwd").read_bytes() == before

    def test_cleanup_stale_removes_what_a_dead_process_left(self, snapshotter: Snapshotter) -> None:
        """Nothing is mounted, and a build's directory goes with the build
        (``test_the_build_root_goes_with_the_build``): nothing is stale."""
        parents = self._stack(snapshotter)
        with snapshotter.prepare(parents) as alive:
            assert snapshotter.cleanup_stale() == []
            assert (alive.merged / "keep").read_text() == "keep\n"


class TestRootDifferContract(DifferContract):
    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> RootSnapshotter:
        return RootSnapshotter(tmp_path / "snapshots")

    @pytest.fixture
    def differ(self) -> RootDiffer:
        return RootDiffer()

    def test_a_step_that_changed_nothing_leaves_nothing(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        """No copy-up: a file made and deleted again leaves the upper empty."""

        def change(root: Path) -> None:
            (root / "var" / "cache" / "tmp").write_text("x")
            os.remove(root / "var" / "cache" / "tmp")

        with self._step(snapshotter, change) as (snapshot, _):
            assert not os.listdir(snapshot.upper)
            assert not differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))

    def test_an_emptied_and_recreated_directory_stays_opaque(
        self, differ: Differ, snapshotter: Snapshotter
    ) -> None:
        """A directory made again is opaque when it has a new inode; a filesystem that
        gives the freed inode back (ext4 does at once) shows only that its entries went,
        and each gets a whiteout: the same filesystem either way."""

        def change(root: Path) -> None:
            shutil.rmtree(root / "var" / "cache")
            (root / "var" / "cache").mkdir(0o755)

        with self._step(snapshotter, change) as (snapshot, base):
            assert differ.drop_unchanged(snapshot.upper, snapshotter.lowers(snapshot))
            buf = io.BytesIO()
            differ.compare(snapshot.upper, buf, compression="none")
        names = {m.name for m in tarfile.open(fileobj=io.BytesIO(buf.getvalue()))}
        assert names & {"var/cache/.wh..wh..opq", "var/cache/.wh.old"}
        with tempfile.TemporaryDirectory() as tmp:
            self._check_empty_after(Path(tmp), base, buf.getvalue())

    @staticmethod
    def _check_empty_after(tmp_path: Path, base: bytes, top: bytes) -> None:
        (tmp_path / "base.tar").write_bytes(base)
        (tmp_path / "top.tar").write_bytes(top)
        target = tmp_path / "rootfs"
        target.mkdir()
        extract_layers(
            [LayerSource(tmp_path / "base.tar"), LayerSource(tmp_path / "top.tar")], target
        )
        assert os.listdir(target / "var" / "cache") == []


def test_the_build_root_goes_with_the_build(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM oci:{base_layout}:busybox\nRUN echo x > /x\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    ok(
        run_cli(
            ["--root", str(tmp_path / "store"), "build", str(ctx), "--isolation", "none"]
            + ["-t", "x"],
            env={"TMPDIR": str(tmpdir)},
        )
    )
    assert list(tmpdir.iterdir()) == []


# -- what RUN --mount does in this mode -------------------------------------------------


def test_a_secret_is_readable_by_the_run_and_in_no_layer(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    secret = tmp_path / "token"
    secret.write_text("s3cret-value")
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\n"
        'RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = s3cret-value'
        " && echo ok > /ok\n"
        "RUN --mount=type=secret,id=tok,target=/etc/passwd grep -q s3cret /etc/passwd"
        " && echo shadowed > /shadowed\n"
    )
    out = tmp_path / "out"
    _build(
        tmp_path / "store", ctx, out, "t", "--isolation", "none", "--secret", f"id=tok,src={secret}"
    )
    members = [m.name for layer in _layer_members(out, "t")[1:] for m in layer]
    assert sorted(members) == ["ok", "shadowed"]  # no run/, no etc/passwd, no stand-in
    rootfs = _unpack(out, "t", tmp_path / "u")
    assert "s3cret" not in (rootfs / "etc" / "passwd").read_text()  # the image's, back
    assert not (rootfs / "run").exists()


@pytest.mark.parametrize(
    ("mount", "what"),
    [
        ("type=cache,target=/var/cache/x", "/var/cache/x (bind of a directory)"),
        ("type=bind,target=/src", "/src (bind of a directory)"),
        ("type=tmpfs,target=/scratch", "/scratch (tmpfs)"),
    ],
)
def test_a_mount_of_a_directory_is_refused_clearly(
    tmp_path: Path, base_layout: Path, mount: str, what: str
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\nRUN --mount={mount} echo hi > /x\n"
    )
    proc = run_cli(
        ["--root", str(tmp_path / "store"), "build", str(ctx), "--isolation", "none", "-t", "x"]
    )
    assert proc.returncode != 0
    assert f"--isolation none cannot mount {what}: it makes no mounts" in proc.stderr
    assert "drop the RUN --mount (secrets work)" in proc.stderr


def test_a_heredoc_script_runs(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\nRUN <<EOF\n#!/bin/sh\necho from-script > /made\nEOF\n"
    )
    out = tmp_path / "out"
    _build(tmp_path / "store", ctx, out, "t", "--isolation", "none")
    members = [m.name for m in _layer_members(out, "t")[-1]]
    assert members == ["made"]


# -- what is never compared -----------------------------------------------------------


def test_ignore_paths_stay_out_of_every_layer(tmp_path: Path, base_layout: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM oci:{base_layout}:busybox\n"
        "RUN mkdir -p /var/log/app && echo noise > /var/log/app/x && echo kept > /kept"
        " && echo dev > /dev/not-a-device\n"
    )
    out = tmp_path / "out"
    _build(tmp_path / "store", ctx, out, "t", "--isolation", "none", "--ignore-path", "/var/log")
    assert [m.name for m in _layer_members(out, "t")[-1]] == ["kept"]


def test_a_mount_point_under_the_root_is_never_compared_nor_emptied(tmp_path: Path) -> None:
    """What a pod mounts (a secret, a service-account token) under the build root: a real
    tmpfs mounted there while a step runs stays out of the layer, and emptying the root
    for another stage leaves the mount and its files alone."""
    snapshotter = RootSnapshotter(tmp_path / "snapshots")
    raw, base = layer_tar([file_entry("keep", b"keep\n")])
    snapshotter.apply(base, lambda: io.BytesIO(raw))
    with snapshotter.prepare([base]) as snapshot:
        point = snapshot.merged / "var" / "run" / "secrets"
        point.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(point)], check=True)
        try:
            (point / "token").write_text("sa-token")
            (snapshot.merged / "made").write_text("made\n")
            snapshot.unmount()
            names = {str(p.relative_to(snapshot.upper)) for p in snapshot.upper.rglob("*")}
            assert "made" in names and not any("token" in n for n in names)
            assert "var/run/secrets" not in names
            other = layer_tar([file_entry("other", b"o\n")])
            snapshotter.commit(snapshot, digest_bytes(b"step"))
            snapshotter.apply(other[1], lambda: io.BytesIO(other[0]))
            with snapshotter.prepare([other[1]]) as again:  # another stage: emptied first
                assert (point / "token").read_text() == "sa-token"
                assert not (again.merged / "keep").exists()
        finally:
            subprocess.run(["umount", str(point)], check=True)
