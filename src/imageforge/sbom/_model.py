"""The SBOM's data: packages found by catalogers, where they were found, and the SBOM
that the writers (table, JSON, SPDX, CycloneDX) render."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "Distro",
    "Evidence",
    "Package",
    "PackageType",
    "Relationship",
    "RelationshipKind",
    "Sbom",
    "SourceInfo",
]


class PackageType:
    """The ``type`` values packages carry (syft's names, so reports read alike)."""

    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYTHON = "python"
    NPM = "npm"
    GO = "go-module"
    JAVA = "java-archive"
    RUST = "rust-crate"
    GEM = "gem"


@dataclass(frozen=True, order=True)
class Evidence:
    """A file a package was found in (its manifest, database or binary): ``path`` as in
    the filesystem view (relative, no leading ``/``), ``layer`` the digest of the image
    layer whose copy of the file is visible (``None`` for a directory target)."""

    path: str
    layer: str | None = None


@dataclass(frozen=True)
class Package:
    """One package. ``name``/``version``/``type``/``purl`` are always set; the rest
    where the metadata says. ``licenses`` are SPDX expressions when the metadata states
    an SPDX id, else the license text as stated. ``depends_on`` names packages of the
    same ecosystem (by name) the metadata says this one needs; the SBOM resolves them
    into :class:`Relationship` edges among the packages found."""

    name: str
    version: str
    type: str
    purl: str
    cpes: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    source_name: str | None = None
    source_version: str | None = None
    supplier: str | None = None
    files: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def id(self) -> str:
        """A stable identifier: the same package found in the same file gets the same
        id in every run (writers use it for SPDX ids and CycloneDX bom-refs)."""
        where = self.evidence[0].path if self.evidence else ""
        key = "\0".join((self.type, self.name, self.version, where))
        return hashlib.sha256(key.encode()).hexdigest()[:16]


class RelationshipKind:
    """What an edge between two packages says (syft's names)."""

    DEPENDS_ON = "depends-on"
    # the parent (an OS package) lists the file the child (a language package) was found
    # by: the child was installed by the OS package manager, as part of the parent
    OWNERSHIP = "ownership-by-file-overlap"


@dataclass(frozen=True)
class Relationship:
    """``parent`` depends on ``child`` (package ids); with ``kind`` ownership, the OS
    package ``parent`` installed the files ``child`` was found by."""

    parent: str
    child: str
    kind: str = RelationshipKind.DEPENDS_ON


@dataclass(frozen=True)
class Distro:
    """The distribution named by ``etc/os-release`` (or ``usr/lib/os-release``)."""

    id: str
    version_id: str | None = None
    pretty_name: str | None = None
    id_like: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceInfo:
    """What was catalogued: ``kind`` is ``"image"`` or ``"directory"``; ``name`` the
    reference or path as the user gave it; ``digest`` the image's manifest digest;
    ``created`` the image config's creation time (RFC 3339) when it states one."""

    kind: str
    name: str
    digest: str | None = None
    config_digest: str | None = None
    architecture: str | None = None
    os: str | None = None
    created: str | None = None


@dataclass
class Sbom:
    """The catalogue: packages sorted by (type, name, version, evidence), the edges
    between them, the distro, and one warning per file that could not be read (the
    rest of the SBOM is still produced)."""

    source: SourceInfo
    distro: Distro | None
    packages: list[Package]
    relationships: list[Relationship]
    warnings: list[str]

    def owners(self) -> dict[str, str]:
        """Package id -> the id of the OS package that owns it (ownership edges)."""
        return {
            r.child: r.parent for r in self.relationships if r.kind == RelationshipKind.OWNERSHIP
        }
