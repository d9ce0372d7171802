"""Debian packages from the dpkg database: ``var/lib/dpkg/status`` and the distroless
``var/lib/dpkg/status.d/*`` files; each package's files from ``var/lib/dpkg/info/
PKG[:ARCH].list`` and its licenses from the machine-readable
``usr/share/doc/PKG/copyright``, as syft reads them."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from imageforge.errors import ImageforgeError
from imageforge.layers import resolve_in_view
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._licenses import normalize_license
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._deb822 import Paragraph, paragraphs

__all__ = ["DpkgCataloger"]

STATUS = "var/lib/dpkg/status"
STATUS_D = "var/lib/dpkg/status.d/"
INFO = "var/lib/dpkg/info/"
DOC = "usr/share/doc/"
MAX_STATUS = 64 << 20
MAX_LIST = 16 << 20
MAX_COPYRIGHT = 4 << 20

_LICENSE_FIELD = re.compile(r"^License:\s*(\S+)", re.MULTILINE)
_COMMON_LICENSE = re.compile(r"/usr/share/common-licenses/([0-9A-Za-z_.+\-]+)")
# Debian's short names (copyright-format 1.0) for the licenses that have an SPDX id.
_DEBIAN_TO_SPDX = {
    "expat": "MIT",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "bsd-4-clause": "BSD-4-Clause",
    "apache-2.0": "Apache-2.0",
    "zlib": "Zlib",
    "isc": "ISC",
    "mpl-2.0": "MPL-2.0",
    "cc0-1.0": "CC0-1.0",
    "artistic": "Artistic-1.0",
    "artistic-2.0": "Artistic-2.0",
    "gfdl-1.2": "GFDL-1.2-only",
    "gfdl-1.3": "GFDL-1.3-only",
}
_GPL = re.compile(r"^(A?GPL|LGPL)-?(\d(?:\.\d)?)(\+)?$", re.IGNORECASE)
_DEP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9+.\-]*)")


def debian_license(name: str) -> str:
    """A Debian copyright short name as an SPDX id where one exists (``GPL-2+`` ->
    ``GPL-2.0-or-later``), else as written."""
    name = name.strip().rstrip(".,")
    match = _GPL.match(name)
    if match:
        family, version, plus = match.groups()
        family = family.upper()
        if "." not in version:
            version += ".0"
        return f"{family}-{version}-{'or-later' if plus else 'only'}"
    return _DEBIAN_TO_SPDX.get(name.lower(), name)


def copyright_licenses(text: str) -> tuple[str, ...]:
    """Licenses named by a copyright file's ``License:`` fields and its references to
    ``/usr/share/common-licenses``, deduplicated and sorted."""
    names = _LICENSE_FIELD.findall(text) + _COMMON_LICENSE.findall(text)
    found = {debian_license(m) for m in names}
    return tuple(sorted({normalize_license(x) or x for x in found if x}))


@dataclass(frozen=True)
class _Entry:
    paragraph: Paragraph
    path: str


def _dependency_names(field: str, known: set[str]) -> list[str]:
    """Names from a Depends-style field: for alternatives (``a | b``), the first one
    installed; version constraints and ``:any`` qualifiers dropped."""
    names: list[str] = []
    for clause in field.split(","):
        alternatives = []
        for alt in clause.split("|"):
            match = _DEP_NAME.match(alt)
            if match:
                alternatives.append(match.group(1))
        chosen = next((a for a in alternatives if a in known), None)
        if chosen is not None and chosen not in names:
            names.append(chosen)
    return names


class DpkgCataloger:
    """``deb`` packages: purl ``pkg:deb/debian/NAME@VERSION?arch=..&upstream=SRC``
    (the run adds ``distro=``)."""

    name = "dpkg"

    def wants(self, info: FileInfo) -> bool:
        path = info.path
        if path == STATUS:
            return True
        if path.startswith(STATUS_D):
            return "/" not in path[len(STATUS_D) :] and not path.endswith(".md5sums")
        if path.startswith(INFO):
            return path.endswith(".list")
        if path.startswith(DOC):
            return path.endswith("/copyright") and path.count("/") == 4
        return False

    def _read(self, files: Files, path: str, limit: int, warn: Warn) -> str | None:
        real = resolve_in_view(files.info, path)  # usr/share/doc/libgcc-s1 -> gcc-12-base
        info = None if real is None else files.info(real)
        if real is None or info is None or info.kind != "file":
            return None
        path = real
        if info.size > limit:
            warn(path, f"{info.size} bytes, more than the {limit >> 20} MiB read; skipped")
            return None
        try:
            return files.read(real).decode("utf-8", "replace")
        except ImageforgeError as exc:
            warn(path, f"cannot read: {exc}")
            return None

    def _entries(self, files: Files, warn: Warn) -> Iterator[_Entry]:
        databases = [STATUS] if files.info(STATUS) is not None else []
        databases += sorted(
            p
            for p in files.paths()
            if p.startswith(STATUS_D) and self.wants(FileInfo(p, "file", 0, 0))
        )
        for path in databases:
            info = files.info(path)
            if info is None or info.kind not in ("file", "symlink"):
                continue
            text = self._read(files, path, MAX_STATUS, warn)
            if text is None:
                continue
            if text and not text.endswith("\n"):
                line = text.count("\n") + 1
                warn(path, f"line {line}: the file ends inside a line (truncated?)")
            for para in paragraphs(text):
                name, version = para.get("Package"), para.get("Version")
                if not name or not version:
                    missing = "Package" if not name else "Version"
                    warn(
                        path,
                        f"line {para.line}: paragraph has no {missing} field "
                        "(truncated or damaged database); skipped",
                    )
                    continue
                status = para.get("Status", "install ok installed").split()
                if status and status[-1] in ("not-installed", "config-files"):
                    continue
                yield _Entry(para, path)

    def catalog(self, files: Files, warn: Warn) -> Iterable[Package]:
        entries = list(self._entries(files, warn))
        known = {e.paragraph.get("Package") for e in entries}
        for entry in entries:
            yield self._package(files, warn, entry, known)

    def _package(self, files: Files, warn: Warn, entry: _Entry, known: set[str]) -> Package:
        p = entry.paragraph
        name, version, arch = p.get("Package"), p.get("Version"), p.get("Architecture")
        source_name: str | None = None
        source_version: str | None = None
        qualifiers = {"arch": arch}
        if p.get("Source"):  # "src" or "src (version)", as syft's upstream= qualifier
            src, _, rest = p.get("Source").partition(" ")
            explicit = rest.strip().strip("()")
            source_name = src
            source_version = explicit or version
            qualifiers["upstream"] = f"{src}@{explicit}" if explicit else src
        evidence = [files.evidence(entry.path)]
        owned: tuple[str, ...] = ()
        for list_path in (f"{INFO}{name}:{arch}.list", f"{INFO}{name}.list"):
            if files.info(list_path) is None:
                continue
            text = self._read(files, list_path, MAX_LIST, warn)
            if text is not None:
                listed = {ln.strip().strip("/") for ln in text.splitlines()}
                owned = tuple(sorted(x for x in listed if x not in ("", ".")))
                evidence.append(files.evidence(list_path))
            break
        licenses: tuple[str, ...] = ()
        copyright_path = resolve_in_view(files.info, f"{DOC}{name}/copyright")
        if copyright_path is not None:
            text = self._read(files, copyright_path, MAX_COPYRIGHT, warn)
            if text is not None:
                licenses = copyright_licenses(text)
                evidence.append(files.evidence(copyright_path))
        depends = _dependency_names(p.get("Pre-Depends"), known) + _dependency_names(
            p.get("Depends"), known
        )
        metadata = {
            k: v
            for k, v in (
                ("architecture", arch),
                ("maintainer", p.get("Maintainer")),
                ("installedSize", p.get("Installed-Size")),
            )
            if v
        }
        return Package(
            name=name,
            version=version,
            type=PackageType.DEB,
            purl=purl("deb", name, version, namespace="debian", qualifiers=qualifiers),
            cpes=cpes([name], [name], version),
            licenses=licenses,
            evidence=tuple(dict.fromkeys(evidence)),
            source_name=source_name,
            source_version=source_version,
            supplier=p.get("Maintainer") or None,
            files=owned,
            depends_on=tuple(dict.fromkeys(d for d in depends if d != name)),
            metadata=metadata,
        )
