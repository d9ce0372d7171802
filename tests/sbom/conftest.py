"""Fixtures for SBOM tests: small dpkg databases written as text, and images assembled
in memory from them (one layer per mapping)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from imageforge.layers import Entry, EntryType, write_layer
from imageforge.oci import Descriptor, Digest, Image
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.transports import BlobLayer

# A layer's content: path -> bytes (a file), ("symlink", target), ("hardlink", target),
# None (a directory) or "whiteout" (the path is deleted).
LayerSpec = Mapping[str, bytes | tuple[str, str] | str | None]

STATUS = """\
Package: base-files
Status: install ok installed
Priority: required
Architecture: amd64
Version: 12.4+deb12u5
Maintainer: Santiago Vila <sanvila@debian.org>
Installed-Size: 394

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Depends: libgcc-s1 | libgcc1
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)

Package: removed-long-ago
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
"""

COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: lib/readline/*
License: GPL-2+

License: GPL-3+
 On Debian systems, see /usr/share/common-licenses/GPL-3.
"""

OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'


def dpkg_tree(root: Path, status: str = STATUS) -> Path:
    """A root with a dpkg database, .list files, a copyright file and os-release."""
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(status)
    (info / "bash.list").write_text("/.\n/bin\n/bin/bash\n/usr/share/doc/bash/copyright\n")
    (info / "libc6:amd64.list").write_text("/lib/x86_64-linux-gnu/libc.so.6\n")
    doc = root / "usr/share/doc/bash"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    (root / "usr/lib").mkdir(parents=True, exist_ok=True)
    (root / "usr/lib/os-release").write_bytes(OS_RELEASE)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").symlink_to("../usr/lib/os-release")
    return root


def tree_spec(root: Path) -> dict[str, bytes | tuple[str, str] | str | None]:
    """A directory as a layer spec (files, directories and symlinks)."""
    spec: dict[str, bytes | tuple[str, str] | str | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            spec[rel] = ("symlink", str(path.readlink()))
        elif path.is_dir():
            spec[rel] = None
        else:
            spec[rel] = path.read_bytes()
    return spec


def build_image(*layers: LayerSpec, blobs: dict[Digest, bytes] | None = None) -> Image:
    """An image of ``layers``, gzip-compressed, blobs kept in ``blobs``."""
    store: dict[Digest, bytes] = {} if blobs is None else blobs
    image: Image = empty_image()
    for spec in layers:
        entries: list[tuple[Entry, bytes | None]] = []
        for path, value in spec.items():
            if value is None:
                entries.append((Entry(path, EntryType.DIR, mode=0o755), None))
            elif value == "whiteout":
                parent, _, name = path.rpartition("/")
                wh = f"{parent}/.wh.{name}" if parent else f".wh.{name}"
                entries.append((Entry(wh, EntryType.FILE), b""))
            elif isinstance(value, tuple):
                kind = EntryType.SYMLINK if value[0] == "symlink" else EntryType.HARDLINK
                entries.append((Entry(path, kind, linkname=value[1]), None))
            elif isinstance(value, bytes):
                entries.append((Entry(path, EntryType.FILE, size=len(value)), value))
        out = io.BytesIO()
        info = write_layer(entries, out, compression="gzip", mtime_clamp=0)
        store[info.digest] = out.getvalue()
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: io.BytesIO(store[d]),
        )
        image = append_layers(image, Addendum(layer))
    return image
