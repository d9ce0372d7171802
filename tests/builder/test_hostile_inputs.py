"""A hostile build context or base image, built for real (real runc, real overlayfs): each
attack is refused with a message naming the path and the cause, a non-zero exit that is
not an internal error, and the store exactly as it was; what is legitimate keeps working."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from imageforge.cli._exit import EXIT_CODES, EXIT_INTERNAL
from imageforge.errors import ErrorKind
from tests.builder.conftest import ok
from tests.conftest import requires_root, run_cli

pytestmark = [requires_root, pytest.mark.slow]

HOST_SECRET = "host-only-secret-3f9a"
CONTEXT_SECRET = "TOKEN=context-secret-77c1"


def _context(tmp_path: Path, dockerfile: str, ignore: str = "") -> Path:
    """A context with an app file, an ignored .env, an alias of itself and symlinks out of
    it to a host directory holding a secret."""
    host = tmp_path / "host"
    host.mkdir(exist_ok=True)
    (host / "shadow").write_text(HOST_SECRET + "\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / ".dockerignore").write_text(ignore)
    (ctx / "app.txt").write_text("app\n")
    (ctx / ".env").write_text(CONTEXT_SECRET + "\n")
    (ctx / "link").symlink_to(host)
    (ctx / "up").symlink_to("../host")
    (ctx / "alias").symlink_to(".")
    return ctx


def _build(
    root: Path, ctx: Path | str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        ["--root", str(root), "build", str(ctx), "--progress", "plain", *args],
        timeout=300,
        cwd=cwd,
    )


def _state(root: Path) -> tuple[object, set[str]]:
    images = ok(run_cli(["--root", str(root), "images", "--format", "json"])).stdout
    return json.loads(images), {p.name for p in (root / "blobs" / "sha256").iterdir()}


def _refused(root: Path, ctx: Path, kind: ErrorKind, *needles: str) -> str:
    before = _state(root)
    proc = _build(root, ctx, "-t", "evil:1")
    assert proc.returncode == EXIT_CODES[kind], proc.stderr
    assert proc.returncode != EXIT_INTERNAL
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert "Traceback" not in proc.stderr
    assert HOST_SECRET not in proc.stdout + proc.stderr
    assert CONTEXT_SECRET not in proc.stdout + proc.stderr
    assert _state(root) == before
    return errors[0]


def _out(root: Path, image: str, *command: str) -> str:
    return ok(run_cli(["--root", str(root), "run", image, *command])).stdout


@pytest.mark.parametrize(
    ("line", "needles"),
    [
        ("COPY link/shadow /x", ("Dockerfile:2", "COPY source 'link/shadow'", "'link'")),
        ("ADD link/shadow /x", ("ADD source 'link/shadow'", "'link'")),
        ("COPY li*/shadow /x", ("COPY source 'link/shadow'", "'link'")),
        ("COPY up/shadow /x", ("'up' is a symlink to '../host'",)),
        ("COPY alias/link/shadow /x", ("'alias/link/shadow'", "'link'")),
        (
            "RUN --mount=type=bind,source=link,target=/m cat /m/shadow",
            ("RUN --mount=type=bind source 'link'", "'link' is a symlink"),
        ),
        (
            "RUN --mount=type=bind,source=alias/link,target=/m,rw cat /m/shadow",
            ("RUN --mount=type=bind source 'alias/link'",),
        ),
    ],
)
def test_a_symlinked_directory_out_of_the_context_is_refused(
    tmp_path: Path, store_with_base: Path, line: str, needles: tuple[str, ...]
) -> None:
    ctx = _context(tmp_path, f"FROM busybox\n{line}\n")
    error = _refused(store_with_base, ctx, ErrorKind.INVALID_ARGUMENT, *needles)
    assert "outside the build context" in error


@pytest.mark.parametrize(
    "line",
    [
        "COPY alias/.env /x",
        "COPY alias/alias/.env /x",
        "RUN --mount=type=bind,source=alias/.env,target=/m cat /m",
    ],
)
def test_an_alias_of_the_context_does_not_reach_an_ignored_file(
    tmp_path: Path, store_with_base: Path, line: str
) -> None:
    ctx = _context(tmp_path, f"FROM busybox\n{line}\n", ignore=".env\n")
    error = _refused(store_with_base, ctx, ErrorKind.NOT_FOUND, "alias/")
    assert "excluded by .dockerignore (it leads to '.env', which is ignored)" in error


def test_a_bind_mount_of_the_context_sees_only_what_dockerignore_keeps(
    tmp_path: Path, store_with_base: Path
) -> None:
    # .env and secrets/ are ignored, one file below secrets/ is re-included
    probe = (
        "cat /src/.env /src/alias/.env /src/secrets/key /src/link/shadow 2>&1; "
        "cd /src && find . | sort; cat app.txt secrets/public.txt"
    )
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        f"RUN --mount=type=bind,target=/src sh -c '{probe}' > /ro\n"
        "RUN --mount=type=bind,target=/src,rw sh -c "
        f"'{probe}; echo new > /src/new; rm /src/app.txt' > /rw\n"
        "RUN --mount=type=bind,source=secrets,target=/s ls -A /s > /sub\n",
        ignore=".env\nsecrets\n!secrets/public.txt\nDockerfile\n.dockerignore\n",
    )
    (ctx / "secrets").mkdir()
    (ctx / "secrets" / "key").write_text(CONTEXT_SECRET + "\n")
    (ctx / "secrets" / "public.txt").write_text("public\n")
    built = ok(_build(store_with_base, ctx, "-t", "view:1"))
    assert CONTEXT_SECRET not in built.stdout + built.stderr
    expected = (
        "cat: can't open '/src/.env': No such file or directory\n"
        "cat: can't open '/src/alias/.env': No such file or directory\n"
        "cat: can't open '/src/secrets/key': No such file or directory\n"
        # a symlink in the view resolves inside the container, never on the host
        "cat: can't open '/src/link/shadow': No such file or directory\n"
        ".\n./alias\n./app.txt\n./link\n./secrets\n./secrets/public.txt\n./up\n"
        "app\npublic\n"
    )
    assert _out(store_with_base, "view:1", "cat", "/ro") == expected
    assert _out(store_with_base, "view:1", "cat", "/rw") == expected
    assert _out(store_with_base, "view:1", "cat", "/sub") == "public.txt\n"
    # writes through the rw mount were thrown away; the context is as it was
    assert (ctx / "app.txt").read_text() == "app\n" and not (ctx / "new").exists()
    # nothing stays mounted
    with open("/proc/self/mountinfo") as f:
        assert str(store_with_base) not in f.read()
    # an ignored file's content is not part of the cache key: changing it is still cached
    (ctx / "secrets" / "key").write_text("changed\n")
    again = ok(_build(store_with_base, ctx, "-t", "view:2"))
    assert again.stderr.count("CACHED") == 3, again.stderr


def test_a_device_node_in_the_context_gives_no_access_through_a_bind_mount(
    tmp_path: Path, store_with_base: Path
) -> None:
    # /dev/random's node: the devices cgroup allows it, so only nodev stops the read; a
    # rw bind's copy used to read it (and would read a disk's node the same way) forever
    probe = "ls -l /src/rnd | cut -c1; head -c1 /src/rnd 2>&1 >/dev/null; true"
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        f'RUN --mount=type=bind,target=/src,rw sh -c "{probe}" > /rw\n'
        f'RUN --mount=type=bind,target=/src sh -c "{probe}" > /ro\n',
    )
    os.mknod(ctx / "rnd", stat.S_IFCHR | 0o666, os.makedev(1, 8))
    ok(_build(store_with_base, ctx, "-t", "dev:1"))
    out = _out(store_with_base, "dev:1", "cat", "/rw", "/ro")
    assert out == "c\nhead: /src/rnd: Permission denied\n" * 2


def test_symlinks_that_stay_inside_the_context_still_work(
    tmp_path: Path, store_with_base: Path
) -> None:
    ctx = _context(
        tmp_path,
        "FROM busybox\n"
        "COPY in/app.txt /a\n"
        "COPY abs /b/\n"
        "COPY alias/app.txt /c\n"
        "RUN --mount=type=bind,source=in,target=/m cat /m/app.txt > /d\n",
    )
    (ctx / "in").symlink_to("sub")
    (ctx / "sub").mkdir()
    (ctx / "sub" / "app.txt").write_text("sub app\n")
    (ctx / "abs").symlink_to(ctx / "sub")  # absolute, but names a place in the context
    ok(_build(store_with_base, ctx, "-t", "inside:1"))
    out = _out(store_with_base, "inside:1", "cat", "/a", "/b/app.txt", "/c", "/d")
    assert out == "sub app\nsub app\napp\nsub app\n"


def test_a_relative_context_and_store_resolve_against_the_callers_directory(
    tmp_path: Path, base_layout: Path
) -> None:
    _context(
        tmp_path,
        "FROM busybox\n"
        "RUN --mount=type=bind,target=/src ls /src > /listing\n"
        "RUN --mount=type=cache,target=/cache touch /cache/seen\n"
        "RUN --mount=type=cache,target=/cache ls /cache > /cached\n",
        ignore=".env\nlink\nup\n",
    )
    here = ["--root", "store-here"]
    ok(run_cli([*here, "import", f"oci:{base_layout}:busybox", "-t", "busybox"], cwd=tmp_path))
    ok(_build(Path("store-here"), "ctx", "-t", "rel:1", "-f", "ctx/Dockerfile", cwd=tmp_path))
    store = tmp_path / "store-here"
    assert _out(store, "rel:1", "cat", "/listing") == "Dockerfile\nalias\napp.txt\n"
    assert _out(store, "rel:1", "cat", "/cached") == "seen\n"
    assert (store / "cache-mounts").is_dir()


def _tar(path: Path, *members: tarfile.TarInfo) -> None:
    with tarfile.open(path, "w") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)


def _hardlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("../../../../etc/shadow", "outside the destination"),
        ("/etc/shadow", "which no earlier member of the archive created"),
    ],
)
def test_add_of_a_tar_with_a_hardlink_out_is_a_clean_refusal(
    tmp_path: Path, store_with_base: Path, target: str, why: str
) -> None:
    ctx = _context(tmp_path, "FROM busybox\nADD evil.tar /d/\n")
    ok_member = tarfile.TarInfo("fine.txt")
    ok_member.size = 3
    _tar(ctx / "evil.tar", ok_member, _hardlink("h", target))
    error = _refused(
        store_with_base,
        ctx,
        ErrorKind.INVALID_ARGUMENT,
        "Dockerfile:2: ADD evil.tar: member 'h' is a hard link to",
        target,
        why,
    )
    assert "internal error" not in error


def _blob(layout: Path, media_type_part: str) -> Path:
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest).read_text())
    layer = next(d for d in manifest["layers"] if media_type_part in d["mediaType"])
    return layout / "blobs" / "sha256" / str(layer["digest"]).split(":")[1]


@pytest.mark.parametrize(
    ("line", "attack", "kind", "needle"),
    [
        ("FROM oci:{layout}:busybox\nRUN true", "zero", ErrorKind.INVALID_ARGUMENT, "/dev/zero"),
        ("FROM oci:{layout}:busybox\nRUN true", "long", ErrorKind.DIGEST_MISMATCH, "more than"),
        (
            "FROM scratch\nCOPY --from=oci:{layout}:busybox /bin/sh /sh",
            "zero",
            ErrorKind.INVALID_ARGUMENT,
            "/dev/zero",
        ),
        (
            "FROM scratch\nCOPY --from=oci:{layout}:busybox /bin/sh /sh",
            "long",
            ErrorKind.DIGEST_MISMATCH,
            "more than",
        ),
    ],
)
def test_a_base_image_whose_layer_never_ends_is_refused(
    tmp_path: Path,
    store_with_base: Path,
    base_layout: Path,
    line: str,
    attack: str,
    kind: ErrorKind,
    needle: str,
) -> None:
    layout = tmp_path / "layout"
    ok(run_cli(["--root", str(store_with_base), "export", "busybox", f"oci:{layout}:busybox"]))
    blob = _blob(layout, "layer")
    size = blob.stat().st_size
    if attack == "zero":
        blob.unlink()
        blob.symlink_to("/dev/zero")
    else:  # the right bytes, then 8 GiB more (sparse: nothing is written to disk)
        with open(blob, "r+b") as f:
            f.truncate(size + (8 << 30))
    store = tmp_path / "fresh"  # a store that has not unpacked this layer yet
    ok(run_cli(["--root", str(store), "import", f"oci:{base_layout}:busybox", "-t", "other"]))
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text(line.format(layout=layout) + "\n")
    before = _state(store)
    proc = _build(store, tmp_path / "ctx", "-t", "evil:1")
    assert proc.returncode == EXIT_CODES[kind], proc.stderr
    assert needle in proc.stderr and blob.name in proc.stderr, proc.stderr
    assert _state(store) == before
