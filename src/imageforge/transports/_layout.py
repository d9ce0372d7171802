"""OCI image layouts (``oci:DIR[:TAG]``): ``oci-layout``, ``index.json``, ``blobs/``.

Tags live in ``index.json`` as the ``org.opencontainers.image.ref.name`` annotation, as
skopeo and umoci write them. Writing adds or replaces one entry of ``index.json``
atomically, after every blob it needs is in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Descriptor, Digest, IndexManifest, load_json, media, validate_json
from imageforge.store import atomic_write

__all__ = ["REF_NAME", "LayoutReader", "add_to_index", "select_manifest"]

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


class LayoutReader:
    def __init__(self, root: Path) -> None:
        self.root = root
        if not root.is_dir():
            raise NotFound(f"OCI layout {root} does not exist")
        layout = root / "oci-layout"
        if not layout.is_file():
            raise InvalidArgument(f"{root} is not an OCI layout: no oci-layout file")
        validate_json("layout", load_json(layout.read_bytes(), str(layout)), what=str(layout))
        index_path = root / "index.json"
        if not index_path.is_file():
            raise InvalidArgument(f"{root} is not an OCI layout: no index.json")
        self.index = IndexManifest.parse(index_path.read_bytes(), what=str(index_path))

    def open(self, digest: Digest) -> IO[bytes]:
        path = self.root / "blobs" / digest.algorithm / digest.hex
        try:
            return open(path, "rb")  # noqa: SIM115 - returned to the caller
        except FileNotFoundError:
            raise NotFound(
                f"OCI layout {self.root} is missing blob {digest}",
                hint="the layout is incomplete; copy it again from its source",
            ) from None


def add_to_index(root: Path, desc: Descriptor, tag: str | None) -> None:
    """Write ``oci-layout`` if absent and put ``desc`` into ``index.json`` (replacing the
    entry with the same tag, or the same digest when untagged)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "oci-layout").exists():
        atomic_write(root / "oci-layout", LAYOUT_FILE)
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
    entries.append(Descriptor(desc.media_type, desc.digest, desc.size, annotations, desc.platform))
    doc = {
        "schemaVersion": 2,
        "mediaType": media.OCI_INDEX,
        "manifests": [d.to_json() for d in entries],
    }
    atomic_write(index_path, json.dumps(doc, indent=None, separators=(",", ":")).encode())
