"""OCI image layouts (``oci:DIR[:TAG]``): ``oci-layout``, ``index.json``, ``blobs/``.

Tags live in ``index.json`` as the ``org.opencontainers.image.ref.name`` annotation, as
skopeo and umoci write them. Writing adds or replaces one entry of ``index.json``
atomically, after every blob it needs is in place.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import IO

from imageforge.errors import InvalidArgument, NotFound
from imageforge.layers import MAX_DOCUMENT
from imageforge.oci import Descriptor, Digest, IndexManifest, load_json, media, validate_json
from imageforge.store import atomic_write

__all__ = ["REF_NAME", "LayoutReader", "add_to_index", "open_regular", "select_manifest"]

REF_NAME = "org.opencontainers.image.ref.name"
LAYOUT_FILE = b'{"imageLayoutVersion":"1.0.0"}'


def select_manifest(index: IndexManifest, tag: str | None, where: str) -> Descriptor:
    """The entry named ``tag``, or the only entry when no tag is given."""
    if tag is not None:
        for desc in index.manifests:
            if desc.annotations.get(REF_NAME) == tag:
                return desc
        names = sorted(n for d in index.manifests if (n := d.annotations.get(REF_NAME)))
        raise NotFound(
            f"{where} has no image tagged {tag!r}",
            hint=f"tags there: {', '.join(names) or 'none'}",
        )
    if len(index.manifests) == 1:
        return index.manifests[0]
    if not index.manifests:
        raise NotFound(f"{where} holds no image")
    raise InvalidArgument(
        f"{where} holds {len(index.manifests)} images: name one with :TAG",
        hint="tags there: "
        + ", ".join(sorted(d.annotations.get(REF_NAME, str(d.digest)) for d in index.manifests)),
    )


_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, within: Path, what: str, missing: str) -> IO[bytes]:
    """``path`` opened for reading if it is a regular file inside ``within`` (after its
    symlinks, which may only lead to another place inside); anything else -- a device, a
    fifo, a directory, a link out of ``within`` -- is refused before a byte is read, and a
    fifo is never waited on. ``what`` names the file in errors, ``missing`` is the
    message when it does not exist."""
    try:
        real = os.path.realpath(path, strict=True)
    except FileNotFoundError:
        raise NotFound(
            missing, hint="the layout is incomplete; copy it again from its source"
        ) from None
    except OSError as exc:  # a symlink loop, a component that is not a directory
        raise InvalidArgument(f"{what} cannot be opened: {exc.strerror}") from None
    top = os.path.realpath(within)
    if real != top and not real.startswith(top.rstrip("/") + "/"):
        raise InvalidArgument(
            f"{what} is a symlink to {real}, outside the layout",
            hint="an OCI layout holds its own content; this one is malformed or hostile",
        )
    fd = os.open(real, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(
                f"{what} is {_kind(st.st_mode)}, not a regular file"
                + (f" (the path leads to {real})" if real != os.path.abspath(path) else ""),
                hint="an OCI layout holds its content as regular files; this one is "
                "malformed or hostile",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class LayoutReader:
    """Reads an OCI layout in place. Every file is opened through :func:`open_regular`
    and blobs are read no further than their descriptor's size (+1 to see that there is
    more), so a hostile layout cannot point a blob at ``/dev/zero``, a fifo or a file
    elsewhere on the host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise NotFound(f"OCI layout {root} does not exist")
        layout = root / "oci-layout"
        if not os.path.lexists(layout):
            raise InvalidArgument(f"{root} is not an OCI layout: no oci-layout file")
        validate_json("layout", load_json(self._document(layout), str(layout)), what=str(layout))
        index_path = root / "index.json"
        if not os.path.lexists(index_path):
            raise InvalidArgument(f"{root} is not an OCI layout: no index.json")
        self.index = IndexManifest.parse(self._document(index_path), what=str(index_path))

    def _document(self, path: Path) -> bytes:
        what = f"OCI layout {self.root}: {path.name}"
        with open_regular(path, self.root, what, f"{what} is missing") as f:
            raw = f.read(MAX_DOCUMENT + 1)
        if len(raw) > MAX_DOCUMENT:
            raise InvalidArgument(f"{path} is larger than {MAX_DOCUMENT} bytes")
        return raw

    def open(self, digest: Digest) -> IO[bytes]:
        path = self.root / "blobs" / digest.algorithm / digest.hex
        return open_regular(
            path,
            self.root,
            f"OCI layout {self.root}: blob {digest}",
            f"OCI layout {self.root} is missing blob {digest}",
        )


def add_to_index(root: Path, desc: Descriptor, tag: str | None) -> None:
    """Write ``oci-layout`` if absent and put ``desc`` into ``index.json`` (replacing the
    entry with the same tag, or the same digest when untagged). The blobs it names must
    be durable already (``DirBlobSink.sync``); both files are renamed into ``root`` and
    the directory is fsynced once, after the last rename."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "oci-layout").exists():
        atomic_write(root / "oci-layout", LAYOUT_FILE, sync_dir=False)  # index.json's fsync
    index_path = root / "index.json"
    entries: list[Descriptor] = []
    if index_path.exists():
        entries = list(IndexManifest.parse(index_path.read_bytes(), what=str(index_path)).manifests)
    annotations = dict(desc.annotations)
    if tag:
        annotations[REF_NAME] = tag
        entries = [d for d in entries if d.annotations.get(REF_NAME) != tag]
    else:
        entries = [d for d in entries if d.digest != desc.digest or d.annotations.get(REF_NAME)]
    entries.append(
        Descriptor(
            desc.media_type,
            desc.digest,
            desc.size,
            annotations,
            desc.platform,
            artifact_type=desc.artifact_type,
        )
    )
    doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [d.to_json() for d in entries],
    }
    atomic_write(index_path, json.dumps(doc, indent=None, separators=(",", ":")).encode())
