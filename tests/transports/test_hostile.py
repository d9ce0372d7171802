"""Hostile inputs: each is refused with a clear error and a non-zero exit, and the store is
left exactly as it was (``images --format json`` before and after)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from imageforge.cli._exit import EXIT_CODES
from imageforge.errors import ErrorKind
from tests.conftest import run_cli


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tuple):
                info, data = e
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(e)
    return buf.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info, data


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def write_layout(
    root: Path,
    layer_blob: bytes,
    diff_id: str,
    *,
    manifest_override: dict[str, object] | None = None,
    skip_blob: bool = False,
) -> None:
    """An OCI layout with one gzip layer, tag ``t``."""
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _sha(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _sha(layer_blob),
                "size": len(layer_blob),
            }
        ],
    }
    manifest.update(manifest_override or {})
    raw_manifest = json.dumps(manifest).encode()
    for blob in (config, raw_manifest) + (() if skip_blob else (layer_blob,)):
        (blobs / _sha(blob).split(":")[1]).write_bytes(blob)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": _sha(raw_manifest),
                        "size": len(raw_manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "t"},
                    }
                ],
            }
        )
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store that already holds one good image, so 'unchanged' means something."""
    root = tmp_path / "store"
    good = tmp_path / "good"
    layer = _tar([_file("etc/ok", b"fine")])
    write_layout(good, gzip.compress(layer), _sha(layer))
    proc = run_cli(
        ["--root", str(root), "import", f"oci:{good}:t", "-t", "good:1", "--progress", "quiet"]
    )
    assert proc.returncode == 0, proc.stderr
    return root


def _images(root: Path) -> object:
    proc = run_cli(["--root", str(root), "images", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _blobs(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs" / "sha256").iterdir()}


def _refused(store: Path, source: str, kind: ErrorKind, *needles: str) -> str:
    before, blobs_before = _images(store), _blobs(store)
    proc = run_cli(["--root", str(store), "import", source, "-t", "evil:1", "--progress", "quiet"])
    assert proc.returncode == EXIT_CODES[kind], proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith("error: ")
    for needle in needles:
        assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _images(store) == before
    assert _blobs(store) == blobs_before
    return proc.stderr


def test_dot_dot_entry(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("../x")])
    write_layout(tmp_path / "l", gzip.compress(layer), _sha(layer))
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, "../x")


def test_file_written_through_a_symlink(tmp_path: Path, store: Path) -> None:
    layer = _tar([_symlink("evil", "/etc"), _file("evil/passwd", b"root::0:0::/:/bin/sh\n")])
    write_layout(tmp_path / "l", gzip.compress(layer), _sha(layer))
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, "evil/passwd")


def test_blob_bytes_do_not_match_the_digest(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("etc/a")])
    blob = gzip.compress(layer)
    write_layout(tmp_path / "l", blob, _sha(layer))
    path = tmp_path / "l" / "blobs" / "sha256" / _sha(blob).split(":")[1]
    path.write_bytes(blob[:-1] + bytes([blob[-1] ^ 1]))
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.DIGEST_MISMATCH, _sha(blob))


def test_manifest_failing_the_schema(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("etc/a")])
    write_layout(
        tmp_path / "l", gzip.compress(layer), _sha(layer), manifest_override={"schemaVersion": 3}
    )
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, "schemaVersion")


def test_truncated_gzip(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("etc/big", bytes(range(256)) * 400)])
    blob = gzip.compress(layer)[:-40]  # digest and size describe the truncated bytes
    write_layout(tmp_path / "l", blob, _sha(layer))
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, "truncated")


def test_layout_with_a_missing_blob(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("etc/a")])
    blob = gzip.compress(layer)
    write_layout(tmp_path / "l", blob, _sha(layer), skip_blob=True)
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.NOT_FOUND, "missing blob", _sha(blob))


def test_diff_id_lie(tmp_path: Path, store: Path) -> None:
    layer = _tar([_file("etc/a")])
    write_layout(tmp_path / "l", gzip.compress(layer), _sha(b"something else"))
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.DIGEST_MISMATCH, "diff_id")


def _layer_blob(layout: Path) -> tuple[Path, bytes]:
    """A layout with one good layer; the layer blob's path and bytes."""
    layer = _tar([_file("etc/a", b"layer content")])
    blob = gzip.compress(layer)
    write_layout(layout, blob, _sha(layer))
    return layout / "blobs" / "sha256" / _sha(blob).split(":")[1], blob


def test_layer_blob_that_is_a_symlink_to_dev_zero(tmp_path: Path, store: Path) -> None:
    path, blob = _layer_blob(tmp_path / "l")
    path.unlink()
    path.symlink_to("/dev/zero")  # main read it forever: 12 GB written in 30 s
    started = time.monotonic()
    _refused(
        store,
        f"oci:{tmp_path / 'l'}:t",
        ErrorKind.INVALID_ARGUMENT,
        _sha(blob),
        "is a symlink to /dev/zero, outside the layout",
    )
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (os.mkfifo, "is a fifo, not a regular file"),  # opening it would wait for a writer
        (os.mkdir, "is a directory, not a regular file"),
    ],
)
def test_layer_blob_that_is_not_a_regular_file(
    tmp_path: Path, store: Path, make: Callable[[Path], None], says: str
) -> None:
    path, blob = _layer_blob(tmp_path / "l")
    path.unlink()
    make(path)
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, _sha(blob), says)


def test_layer_blob_longer_than_its_descriptor_is_not_read_past_its_size(
    tmp_path: Path, store: Path
) -> None:
    path, blob = _layer_blob(tmp_path / "l")
    with open(path, "r+b") as f:  # the right bytes, then 16 GiB more (sparse)
        f.truncate(len(blob) + (16 << 30))
    started = time.monotonic()
    _refused(
        store,
        f"oci:{tmp_path / 'l'}:t",
        ErrorKind.DIGEST_MISMATCH,
        _sha(blob),
        f"more than the {len(blob)} bytes its descriptor gives",
    )
    assert time.monotonic() - started < 60
    leftovers = [p for p in store.rglob("*") if p.is_file() and p.stat().st_size > (1 << 20)]
    assert leftovers == []


def test_index_json_that_is_a_symlink_to_dev_zero(tmp_path: Path, store: Path) -> None:
    _layer_blob(tmp_path / "l")
    (tmp_path / "l" / "index.json").unlink()
    (tmp_path / "l" / "index.json").symlink_to("/dev/zero")
    _refused(store, f"oci:{tmp_path / 'l'}:t", ErrorKind.INVALID_ARGUMENT, "index.json")


def test_a_blob_symlink_inside_the_layout_is_followed(tmp_path: Path, store: Path) -> None:
    path, _ = _layer_blob(tmp_path / "l")
    shared = tmp_path / "l" / "shared-blob"
    os.rename(path, shared)
    path.symlink_to("../../shared-blob")
    proc = run_cli(["--root", str(store), "import", f"oci:{tmp_path / 'l'}:t", "-t", "ok:1"])
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("transport", ["oci-archive", "docker-archive"])
def test_archive_that_is_not_a_regular_file(tmp_path: Path, store: Path, transport: str) -> None:
    (tmp_path / "zero.tar").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.tar")
    for name, says in (("zero.tar", "it leads to /dev/zero"), ("fifo.tar", "fifo.tar")):
        _refused(
            store,
            f"{transport}:{tmp_path / name}",
            ErrorKind.INVALID_ARGUMENT,
            "is not a regular file",
            says,
        )


def test_oci_archive_blob_longer_than_its_descriptor(tmp_path: Path, store: Path) -> None:
    path, blob = _layer_blob(tmp_path / "l")
    path.write_bytes(blob + b"\0" * (4 << 20))
    archive = tmp_path / "l.tar"
    with tarfile.open(archive, "w") as tar:
        for member in sorted((tmp_path / "l").rglob("*")):
            tar.add(member, arcname=str(member.relative_to(tmp_path / "l")), recursive=False)
    _refused(
        store,
        f"oci-archive:{archive}:t",
        ErrorKind.DIGEST_MISMATCH,
        _sha(blob),
        f"more than the {len(blob)} bytes",
    )
