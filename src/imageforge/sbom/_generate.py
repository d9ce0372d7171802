"""One SBOM run: select files for every cataloger, read them together, catalogue,
resolve dependency edges, detect the distro, sort.

For an image the selected files are read in one pass per layer
(:meth:`ImageFiles.load`); a directory is read in place. Every problem with a file
becomes one warning naming it, and the run goes on."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from packageurl import PackageURL

from imageforge.errors import NotFound
from imageforge.layers import resolve_in_view
from imageforge.oci import Image
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom._distro import OS_RELEASE_PATHS, detect_distro
from imageforge.sbom._files import FileInfo, Files
from imageforge.sbom._image_files import ImageFiles
from imageforge.sbom._model import (
    Distro,
    Evidence,
    Package,
    PackageType,
    Relationship,
    RelationshipKind,
    Sbom,
    SourceInfo,
)

__all__ = ["OS_PACKAGE_TYPES", "generate", "image_source", "ownership"]

OS_PACKAGE_TYPES = frozenset({PackageType.DEB, PackageType.APK, PackageType.RPM})


class _Resolving:
    """The view a cataloger gets: ``paths`` are the ones it selected with ``wants``
    (the run asked once; a cataloger need not walk the whole view again), ``info``
    answers for any path, and reads follow symlinks inside the view (a link
    ``etc/os-release -> ../usr/lib/os-release`` reads the image's file, never the
    host's)."""

    def __init__(self, files: Files, paths: Sequence[str] = ()) -> None:
        self._files = files
        self._paths = paths

    def paths(self) -> Iterable[str]:
        return self._paths

    def info(self, path: str) -> FileInfo | None:
        return self._files.info(path)

    def _real(self, path: str) -> str:
        real = resolve_in_view(self._files.info, path)
        if real is None:
            raise NotFound(f"{path!r} does not resolve to a file of the view")
        return real

    def read(self, path: str) -> bytes:
        return self._files.read(self._real(path))

    def open(self, path: str) -> BinaryIO:
        return self._files.open(self._real(path))

    def evidence(self, path: str) -> Evidence:
        try:
            return self._files.evidence(self._real(path))
        except NotFound:
            return self._files.evidence(path)


def image_source(image: Image, name: str | None = None) -> SourceInfo:
    """What an SBOM says of ``image``: ``name`` as the user gave it (default: its
    digest), its digests, platform and creation time."""
    config = image.config()
    created = config.data.get("created")
    return SourceInfo(
        kind="image",
        name=name if name is not None else str(image.digest),
        digest=str(image.digest),
        config_digest=str(image.manifest().config.digest),
        architecture=config.architecture or None,
        os=config.os or None,
        created=created if isinstance(created, str) and created else None,
    )


def _with_distro(pkg: Package, distro: Distro | None) -> Package:
    if distro is None or pkg.type not in OS_PACKAGE_TYPES:
        return pkg
    try:
        parsed = PackageURL.from_string(pkg.purl)
    except ValueError:
        return pkg
    qualifiers = dict(parsed.qualifiers) if isinstance(parsed.qualifiers, dict) else {}
    qualifiers["distro"] = f"{distro.id}-{distro.version_id}" if distro.version_id else distro.id
    new = PackageURL(
        type=parsed.type,
        namespace=distro.id,
        name=parsed.name,
        version=parsed.version,
        qualifiers=qualifiers,
        subpath=parsed.subpath,
    ).to_string()
    return dataclasses.replace(pkg, purl=new)


def _sort_key(p: Package) -> tuple[str, str, str, tuple[Evidence, ...]]:
    return (p.type, p.name, p.version, p.evidence)


def ownership(packages: Sequence[Package]) -> list[Relationship]:
    """Ownership edges: an OS package whose file list holds a file a language package
    was found by (Debian's ``python3-requests`` lists ``requests``' metadata) owns it;
    the language package was installed as part of the OS package, and its problems are
    the OS package's, as the distribution fixes them."""
    owner_of: dict[str, str] = {}
    for p in packages:
        if p.type in OS_PACKAGE_TYPES:
            for f in p.files:
                owner_of.setdefault(f.strip("/"), p.id)
    edges: dict[str, Relationship] = {}
    for p in packages:
        if p.type in OS_PACKAGE_TYPES:
            continue
        for e in p.evidence:
            parent = owner_of.get(e.path.strip("/"))
            if parent is not None:
                edges.setdefault(p.id, Relationship(parent, p.id, RelationshipKind.OWNERSHIP))
                break
    return list(edges.values())


def _relationships(packages: Sequence[Package]) -> list[Relationship]:
    by_name: dict[tuple[str, str], list[str]] = {}
    for p in packages:
        by_name.setdefault((p.type, p.name), []).append(p.id)
    edges: set[Relationship] = set(ownership(packages))
    for p in packages:
        for dep in p.depends_on:
            for child in by_name.get((p.type, dep), ()):
                if child != p.id:
                    edges.add(Relationship(p.id, child))
    return sorted(edges, key=lambda r: (r.parent, r.child, r.kind))


def _catalogue(
    cataloger: Cataloger, view: Files, warn: _Warnings, progress: ProgressSink
) -> Iterator[Package]:
    try:
        yield from cataloger.catalog(view, warn)
    except Exception as exc:  # a cataloger bug must not cost the other catalogers' work
        warn(f"cataloger {cataloger.name}", f"stopped: {type(exc).__name__}: {exc}")
    progress.advance("sbom-catalog")


class _Warnings:
    def __init__(self) -> None:
        self.lines: dict[str, None] = {}

    def __call__(self, path: str, message: str) -> None:
        self.lines[f"{path}: {message}"] = None


def generate(
    target: Files | Image,
    source: SourceInfo | None = None,
    *,
    catalogers: Sequence[Cataloger] | None = None,
    progress: ProgressSink | None = None,
) -> Sbom:
    """Catalogue ``target`` (a :class:`Files` view or an image) with ``catalogers``
    (default: every cataloger). For an image, ``source`` gives the name the user used;
    the digests, platform and creation time are taken from the image."""
    if catalogers is None:
        from imageforge.sbom.catalogers import ALL_CATALOGERS

        catalogers = ALL_CATALOGERS
    sink = progress or NULL_PROGRESS
    warn = _Warnings()
    if isinstance(target, Image):
        source = image_source(target, source.name if source is not None else None)
        with ImageFiles(target, warn=warn, progress=sink) as files:
            return _run(files, source, catalogers, warn, sink)
    if source is None:
        source = SourceInfo(kind="directory", name=str(getattr(target, "root", "")))
    return _run(target, source, catalogers, warn, sink)


def _run(
    files: Files,
    source: SourceInfo,
    catalogers: Sequence[Cataloger],
    warn: _Warnings,
    progress: ProgressSink,
) -> Sbom:
    selections: list[list[str]] = [[] for _ in catalogers]
    for path in files.paths():
        info = files.info(path)
        if info is None:
            continue
        for selection, cataloger in zip(selections, catalogers, strict=True):
            if cataloger.wants(info):
                selection.append(path)
    if isinstance(files, ImageFiles):
        wanted = set(OS_RELEASE_PATHS).union(*selections)
        files.load(sorted(wanted))
    distro = detect_distro(_Resolving(files), warn)
    progress.start("sbom-catalog", "cataloguing", len(catalogers), "catalogers")
    found: list[Package] = []
    for selection, cataloger in zip(selections, catalogers, strict=True):
        view = _Resolving(files, sorted(selection))
        found.extend(_with_distro(p, distro) for p in _catalogue(cataloger, view, warn, progress))
    progress.done("sbom-catalog", f"{len(found)} packages")
    packages = sorted(found, key=_sort_key)
    return Sbom(
        source=source,
        distro=distro,
        packages=packages,
        relationships=_relationships(packages),
        warnings=sorted(warn.lines),
    )
