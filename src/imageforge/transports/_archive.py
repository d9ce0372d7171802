"""Tar archives of images: ``oci-archive:`` (a tarred OCI layout) and ``docker-archive:``
(what ``docker save`` writes and ``docker load`` / ``podman load`` read: a
``manifest.json`` list, the config as ``<hex>.json`` and uncompressed layer tars).

Reading seeks inside the tar, never extracting it; writing builds the content in a
temporary directory beside the destination and renames the finished tar into place.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import IO, Any

from imageforge.errors import DigestMismatch, InvalidArgument, NotFound
from imageforge.layers import BlobLayer
from imageforge.oci import (
    BaseImage,
    Descriptor,
    Digest,
    Image,
    IndexManifest,
    Layer,
    Manifest,
    Reference,
    digest_bytes,
    digest_file,
    load_json,
    media,
    new_hasher,
)
from imageforge.store import fsync_dir

__all__ = [
    "ArchiveLayout",
    "ArchiveReader",
    "DockerArchiveImage",
    "index_of_layout",
    "open_archive_layout",
    "repo_tag",
    "write_docker_archive",
    "write_tar",
]


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


class _Serialized(io.RawIOBase):
    """A member's stream whose reads take the archive's lock: every member reads through
    the one file of the tar (a seek, then a read), so two members read at once (an
    image's layers indexed in parallel) would otherwise read each other's bytes."""

    def __init__(self, member: IO[bytes], lock: threading.Lock) -> None:
        self._member = member
        self._lock = lock

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with self._lock:
            data = self._member.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        with self._lock:
            return self._member.seek(offset, whence)

    def tell(self) -> int:
        with self._lock:
            return self._member.tell()

    def close(self) -> None:
        self._member.close()
        super().close()


class ArchiveReader:
    """Random access to the members of a tar file (members may be read from several
    threads at once)."""

    def __init__(self, path: Path) -> None:
        if not os.path.lexists(path):
            raise NotFound(f"archive {path} does not exist")
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise InvalidArgument(f"archive {path} cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(mode):  # /dev/zero or a fifo would never end
            raise InvalidArgument(
                f"archive {path} is not a regular file"
                + (f" (it leads to {os.path.realpath(path)})" if path.is_symlink() else ""),
                hint="name the archive file itself",
            )
        self.path = path
        self._lock = threading.Lock()
        try:
            self._tar = tarfile.open(path, "r:*")  # noqa: SIM115 - closed in close()
            self._members = {
                _clean(m.name): m for m in self._tar.getmembers() if m.isfile() or m.islnk()
            }
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise InvalidArgument(f"{path} is not a readable tar archive: {exc}") from None

    def has(self, name: str) -> bool:
        return name in self._members

    def open_member(self, name: str) -> IO[bytes]:
        member = self._members.get(name)
        if member is None:
            raise NotFound(f"archive {self.path} has no member {name!r}")
        with self._lock:
            f = self._tar.extractfile(member)
        if f is None:
            raise InvalidArgument(f"archive {self.path}: {name!r} is not a regular file")
        return io.BufferedReader(_Serialized(f, self._lock), 1 << 20)

    def read_member(self, name: str, limit: int = 4 * 1024 * 1024) -> bytes:
        with self.open_member(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"archive {self.path}: {name!r} is larger than {limit} bytes")
        return data

    def open_blob(self, digest: Digest) -> IO[bytes]:
        name = f"blobs/{digest.algorithm}/{digest.hex}"
        if name not in self._members:
            raise NotFound(f"archive {self.path} is missing blob {digest}")
        return self.open_member(name)

    def close(self) -> None:
        self._tar.close()


def repo_tag(name: str) -> str:
    """How docker writes a name in RepoTags: the familiar form (``busybox:latest``)."""
    return Reference.parse(name).with_default_tag().familiar()


class DockerArchiveImage(BaseImage):
    """An image read from a docker-archive: its manifest is synthesised (OCI media types),
    its config bytes and diff_ids are the archive's own."""

    def __init__(self, archive: ArchiveReader, reference: str | None) -> None:
        self._archive = archive
        data = load_json(archive.read_member("manifest.json"), f"{archive.path}:manifest.json")
        if not isinstance(data, list) or not data:
            raise InvalidArgument(f"{archive.path}: manifest.json is not a non-empty list")
        self._entry = self._select(data, reference)
        self._config_name = str(self._entry["Config"])
        self._layer_names = [str(n) for n in self._entry.get("Layers") or []]
        self.repo_tags: list[str] = list(self._entry.get("RepoTags") or [])

    def _select(self, entries: list[Any], reference: str | None) -> dict[str, Any]:
        if reference is None:
            if len(entries) > 1:
                raise InvalidArgument(
                    f"{self._archive.path} holds {len(entries)} images: name one as "
                    "docker-archive:FILE:NAME:TAG"
                )
            entry = entries[0]
        else:
            wanted = repo_tag(reference)
            matches = [e for e in entries if wanted in (e.get("RepoTags") or [])]
            if not matches:
                raise NotFound(f"{self._archive.path} has no image {wanted!r}")
            entry = matches[0]
        if not isinstance(entry, dict) or "Config" not in entry:
            raise InvalidArgument(f"{self._archive.path}: manifest.json entry has no Config")
        return entry

    @cached_property
    def _raw_config(self) -> bytes:
        return self._archive.read_member(self._config_name)

    def raw_config(self) -> bytes:
        return self._raw_config

    @cached_property
    def _descriptors(self) -> list[tuple[Descriptor, str]]:
        out = []
        for name in self._layer_names:
            with self._archive.open_member(name) as f:
                head = f.read(4)
            with self._archive.open_member(name) as f:
                digest, size = digest_file(f)
            compressed = head[:2] == b"\x1f\x8b" or head == b"\x28\xb5\x2f\xfd"
            mt = media.OCI_LAYER_GZIP if head[:2] == b"\x1f\x8b" else media.OCI_LAYER_ZSTD
            out.append((Descriptor(mt if compressed else media.OCI_LAYER, digest, size), name))
        return out

    @cached_property
    def _raw_manifest(self) -> bytes:
        raw_config = self.raw_config()
        manifest = Manifest(
            Descriptor(media.OCI_CONFIG, digest_bytes(raw_config), len(raw_config)),
            tuple(d for d, _ in self._descriptors),
        )
        return manifest.to_bytes()

    def raw_manifest(self) -> bytes:
        return self._raw_manifest

    def layers(self) -> Sequence[Layer]:
        diff_ids = self.config().diff_ids
        if len(diff_ids) != len(self._descriptors):
            raise InvalidArgument(
                f"{self._archive.path}: {len(self._descriptors)} layers but the config lists "
                f"{len(diff_ids)} diff_ids"
            )
        names = {d.digest: n for d, n in self._descriptors}

        def opener(digest: Digest) -> IO[bytes]:
            return self._archive.open_member(names[digest])

        out: list[Layer] = []
        for (desc, _), diff_id in zip(self._descriptors, diff_ids, strict=True):
            if desc.media_type == media.OCI_LAYER and desc.digest != diff_id:
                raise DigestMismatch(
                    f"{self._archive.path}: layer {names[desc.digest]} has digest "
                    f"{desc.digest}, the config says {diff_id}",
                    expected=str(diff_id),
                    actual=str(desc.digest),
                )
            out.append(BlobLayer(desc, diff_id, opener))
        return out


@contextmanager
def _temp_beside(dest: Path) -> Iterator[Path]:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, dest)
        fsync_dir(dest.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uname = info.gname = ""
    return info


def write_tar(dest: Path, members: Sequence[tuple[str, Path | bytes]]) -> None:
    """Write an uncompressed tar of ``members`` to ``dest`` atomically."""
    with _temp_beside(dest) as tmp:
        with (
            open(tmp, "wb") as raw,
            tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name, content in members:
                if isinstance(content, bytes):
                    tar.addfile(_tarinfo(name, len(content)), io.BytesIO(content))
                else:
                    with open(content, "rb") as f:
                        tar.addfile(_tarinfo(name, content.stat().st_size), f)
            tar.close()
            raw.flush()
            os.fsync(raw.fileno())


def write_docker_archive(dest: Path, image: Image, names: Sequence[str]) -> None:
    """Write ``image`` as ``docker save`` would: uncompressed layers ``<diff_id hex>.tar``."""
    raw_config = image.raw_config()
    config_digest = digest_bytes(raw_config)
    with tempfile.TemporaryDirectory(prefix=".docker-archive-", dir=dest.parent) as tmpdir:
        members: list[tuple[str, Path | bytes]] = [(f"{config_digest.hex}.json", raw_config)]
        layer_names = []
        for layer in image.layers():
            path = Path(tmpdir) / f"{layer.diff_id.hex}.tar"
            if not path.exists():
                with layer.open_uncompressed() as src, open(path, "wb") as out:
                    got, _ = _copy_hashing(src, out)
                if got != layer.diff_id:
                    raise DigestMismatch(
                        f"layer {layer.digest}: uncompressed content is {got}, config says "
                        f"{layer.diff_id}",
                        expected=str(layer.diff_id),
                        actual=str(got),
                    )
                members.append((path.name, path))
            layer_names.append(path.name)
        tags = [repo_tag(n) for n in names]
        manifest = [
            {"Config": f"{config_digest.hex}.json", "RepoTags": tags, "Layers": layer_names}
        ]
        repositories: dict[str, dict[str, str]] = {}
        for tag in tags:
            repo, _, t = tag.rpartition(":")
            repositories.setdefault(repo, {})[t] = (
                layer_names[-1].removesuffix(".tar") if layer_names else ""
            )
        members.append(("manifest.json", json.dumps(manifest).encode()))
        if repositories:
            members.append(("repositories", json.dumps(repositories).encode()))
        write_tar(dest, members)


def _copy_hashing(src: IO[bytes], out: IO[bytes]) -> tuple[Digest, int]:
    h = new_hasher("sha256")
    n = 0
    while chunk := src.read(1 << 20):
        h.update(chunk)
        out.write(chunk)
        n += len(chunk)
    return Digest.from_hex("sha256", h.hexdigest()), n


def index_of_layout(archive: ArchiveReader) -> IndexManifest:
    if not archive.has("oci-layout"):
        raise InvalidArgument(f"{archive.path} is not an OCI archive: no oci-layout member")
    return IndexManifest.parse(archive.read_member("index.json"), what=f"{archive.path}:index.json")


class ArchiveLayout:
    """An OCI archive read as a layout: its ``index.json`` and its blobs by digest."""

    def __init__(self, archive: ArchiveReader) -> None:
        self.archive = archive
        self.index = index_of_layout(archive)

    def open(self, digest: Digest) -> IO[bytes]:
        return self.archive.open_blob(digest)


@contextmanager
def open_archive_layout(path: Path) -> Iterator[ArchiveLayout]:
    """The OCI archive ``path`` as a layout, readable inside the ``with`` block."""
    archive = ArchiveReader(path)
    try:
        yield ArchiveLayout(archive)
    finally:
        archive.close()
