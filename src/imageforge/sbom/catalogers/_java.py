"""Java archives (``.jar .war .ear .par .sar .nar .jpi .hpi .kar .lpkg``): the Maven
coordinates of ``META-INF/maven/**/pom.properties``, the archive's own identity from
``META-INF/MANIFEST.MF`` and its file name, licenses from ``pom.xml`` and
``Bundle-License``, and archives nested inside (``WEB-INF/lib``, ``BOOT-INF/lib``...),
recursively.

Archives are read with ``zipfile`` through :meth:`Files.open` (no extraction); every read
is bounded — entries, nesting depth, each nested archive's size and the bytes inflated
per top-level archive — so a zip bomb or a corrupt archive gives one warning. The
manifest format (``Name: value`` with one-space continuation lines) is parsed here: it
has no Python library."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO
from xml.etree import ElementTree

from imageforge.errors import ImageforgeError
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import basename, guarded
from imageforge.sbom.catalogers._licenses import license_from_text, license_or_text

__all__ = ["UNKNOWN_VERSION", "JavaCataloger", "parse_manifest"]

ARCHIVE_SUFFIXES = (
    ".jar",
    ".war",
    ".ear",
    ".par",
    ".sar",
    ".nar",
    ".jpi",
    ".hpi",
    ".kar",
    ".lpkg",
)
#: The version of an archive whose manifest and file name give none (syft's word).
UNKNOWN_VERSION = "UNKNOWN"
MAX_DEPTH = 4  # archives inside archives inside ... this deep at most
MAX_ENTRIES = 200_000
MAX_METADATA_ENTRY = 4 * 1024 * 1024  # a manifest, pom.properties or pom.xml
MAX_NESTED = 256 * 1024 * 1024  # one nested archive, inflated into memory
MAX_INFLATED = 1024 * 1024 * 1024  # everything inflated for one top-level archive
MAX_RATIO = 200  # a compression ratio beyond this, on a big entry, is a bomb


class _Refused(Exception):
    """An archive (or part of one) that would break a bound."""


@dataclass
class _Budget:
    inflated: int = 0

    def take(self, size: int) -> None:
        self.inflated += size
        if self.inflated > MAX_INFLATED:
            raise _Refused(f"more than {MAX_INFLATED} bytes inflated from one archive")


@dataclass
class _Pom:
    group: str
    artifact: str
    version: str
    path: str
    licenses: list[str] = field(default_factory=list)
    name: str = ""


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a JAR manifest (continuation lines joined)."""
    out: dict[str, str] = {}
    key: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line.strip():
            if out:
                break  # the end of the main section
            continue
        if line.startswith(" ") and key is not None:
            out[key] += line[1:]
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip()
            out[key] = value.strip()
    return out


def _split_property(line: str) -> tuple[str, str]:
    match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)", line)
    return (match.group(1), match.group(2).strip()) if match else (line, "")


def _pom_licenses(xml: bytes) -> list[str]:
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return []
    out = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "license":
            continue
        for child in element:
            if child.tag.rsplit("}", 1)[-1] == "name" and child.text:
                found = license_or_text(child.text)
                if found:
                    out.append(found)
    return out


def _name_version(filename: str) -> tuple[str, str]:
    """``commons-io-2.11.0.jar`` -> (``commons-io``, ``2.11.0``)."""
    stem = filename.rsplit(".", 1)[0]
    match = re.match(r"^(.+?)-(\d[\w.+-]*)$", stem)
    if match:
        return match.group(1), match.group(2)
    return stem, ""


class JavaCataloger:
    """Maven artifacts in Java archives, nested archives included."""

    name = "java-archive"

    def wants(self, info: FileInfo) -> bool:
        return info.kind == "file" and info.path.lower().endswith(ARCHIVE_SUFFIXES)

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        paths = [p for p in files.paths() if p.lower().endswith(ARCHIVE_SUFFIXES)]
        paths = [p for p in paths if (i := files.info(p)) is not None and i.kind == "file"]
        yield from guarded(paths, lambda p: self._archive_file(files, p, warn), warn)

    def _archive_file(self, files: Files, path: str, warn: Warn) -> list[Package]:
        out: list[Package] = []
        try:
            with files.open(path) as stream:
                self._archive(stream, path, "", 0, _Budget(), files, warn, out)
        except (ImageforgeError, OSError) as exc:
            warn(path, f"cannot be read: {exc}")
        # a fat archive may carry the same artifact twice: one package (one id) for it
        unique = {(p.purl, p.name, p.version): p for p in reversed(out)}
        return sorted(unique.values(), key=lambda p: (p.metadata["virtual_path"], p.name))

    def _archive(
        self,
        stream: IO[bytes],
        path: str,
        virtual: str,
        depth: int,
        budget: _Budget,
        files: Files,
        warn: Warn,
        out: list[Package],
    ) -> None:
        where = f"{path}:{virtual}" if virtual else path
        try:
            with zipfile.ZipFile(stream) as archive:
                entries = archive.infolist()
                if len(entries) > MAX_ENTRIES:
                    raise _Refused(f"{len(entries)} entries, over the {MAX_ENTRIES} limit")
                out.extend(self._packages(archive, path, virtual, budget, files))
                for entry in entries:
                    if entry.is_dir() or not entry.filename.lower().endswith(ARCHIVE_SUFFIXES):
                        continue
                    inner = f"{virtual}:{entry.filename}" if virtual else entry.filename
                    if depth + 1 > MAX_DEPTH:
                        warn(path, f"{inner}: archives nested deeper than {MAX_DEPTH}; skipped")
                        continue
                    try:
                        data = _read_entry(archive, entry, MAX_NESTED, budget)
                    except _Refused as exc:
                        warn(path, f"{inner}: {exc}")
                        continue
                    self._archive(
                        io.BytesIO(data), path, inner, depth + 1, budget, files, warn, out
                    )
        except _Refused as exc:
            warn(path, f"{where}: {exc}")
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            EOFError,
            ValueError,
            NotImplementedError,
        ) as exc:
            warn(path, f"{where}: not a readable zip archive: {exc}")

    def _packages(
        self,
        archive: zipfile.ZipFile,
        path: str,
        virtual: str,
        budget: _Budget,
        files: Files,
    ) -> list[Package]:
        names = {e.filename: e for e in archive.infolist()}
        manifest: dict[str, str] = {}
        if "META-INF/MANIFEST.MF" in names:
            manifest = parse_manifest(_text(archive, names["META-INF/MANIFEST.MF"], budget))
        poms: list[_Pom] = []
        for entry_name in sorted(names):
            if not (
                entry_name.startswith("META-INF/maven/") and entry_name.endswith("/pom.properties")
            ):
                continue
            props = dict(
                _split_property(line.strip())
                for line in _text(archive, names[entry_name], budget).splitlines()
                if line.strip() and not line.lstrip().startswith(("#", "!"))
            )
            group, artifact, version = (
                props.get(k, "") for k in ("groupId", "artifactId", "version")
            )
            if not artifact or not version:
                continue
            pom = _Pom(group, artifact, version, entry_name)
            xml_name = entry_name[: -len("pom.properties")] + "pom.xml"
            if xml_name in names:
                pom.licenses = _pom_licenses(
                    _read_entry(archive, names[xml_name], MAX_METADATA_ENTRY, budget)
                )
            poms.append(pom)

        archive_name = basename(virtual.rsplit(":", 1)[-1] if virtual else path)
        file_name, file_version = _name_version(archive_name)
        manifest_licenses = [
            found
            for part in re.split(r",\s*(?=[A-Za-z])", manifest.get("Bundle-License", ""))
            if (found := license_or_text(part.split(";", 1)[0]))
        ]
        if not manifest_licenses:
            # as syft: the archive's own license file when no metadata names one
            for candidate in ("META-INF/LICENSE", "META-INF/LICENSE.txt", "META-INF/LICENSE.md"):
                if candidate in names:
                    found = license_from_text(_text(archive, names[candidate], budget))
                    manifest_licenses = [found] if found else []
                    break
        location = "/" + path + (":" + virtual if virtual else "")
        out: list[Package] = []
        main_pom = next(
            (
                p
                for p in poms
                if p.artifact == file_name or archive_name.startswith(f"{p.artifact}-{p.version}")
            ),
            poms[0] if len(poms) == 1 and not manifest else None,
        )
        if main_pom is not None:
            out.append(
                _java_package(
                    main_pom.artifact,
                    main_pom.version,
                    main_pom.group,
                    main_pom.licenses or manifest_licenses,
                    path,
                    location,
                    files,
                )
            )
        elif manifest:
            name = (
                file_name or manifest.get("Implementation-Title") or manifest.get("Bundle-Name", "")
            )
            version = (
                manifest.get("Implementation-Version")
                or manifest.get("Bundle-Version")
                or manifest.get("Specification-Version")
                or file_version
                or UNKNOWN_VERSION  # as syft reports an archive it cannot date
            )
            group = _manifest_group(manifest)
            if name:
                out.append(
                    _java_package(name, version, group, manifest_licenses, path, location, files)
                )
        for pom in poms:
            if pom is main_pom:
                continue
            out.append(
                _java_package(
                    pom.artifact,
                    pom.version,
                    pom.group,
                    pom.licenses,
                    path,
                    f"{location}:{pom.path}",
                    files,
                )
            )
        return out


def _manifest_group(manifest: dict[str, str]) -> str:
    """The group id a manifest implies, as syft takes it: ``Implementation-Vendor-Id``,
    else a dotted ``Bundle-SymbolicName`` or ``Automatic-Module-Name`` whole."""
    vendor_id = manifest.get("Implementation-Vendor-Id", "").strip()
    if vendor_id:
        return vendor_id
    for key in ("Bundle-SymbolicName", "Automatic-Module-Name"):
        value = manifest.get(key, "").split(";", 1)[0].strip()
        if "." in value:
            return value
    return ""


def _read_entry(
    archive: zipfile.ZipFile, entry: zipfile.ZipInfo, limit: int, budget: _Budget
) -> bytes:
    if entry.file_size > limit:
        raise _Refused(
            f"{entry.filename} inflates to {entry.file_size} bytes, over the {limit} limit"
        )
    if (
        entry.compress_size
        and entry.file_size > 1024 * 1024
        and entry.file_size / entry.compress_size > MAX_RATIO
    ):
        raise _Refused(f"{entry.filename} has a compression ratio over {MAX_RATIO} (a zip bomb?)")
    with archive.open(entry) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise _Refused(f"{entry.filename} inflates past the {limit} byte limit")
    budget.take(len(data))
    return data


def _text(archive: zipfile.ZipFile, entry: zipfile.ZipInfo, budget: _Budget) -> str:
    return _read_entry(archive, entry, MAX_METADATA_ENTRY, budget).decode("utf-8", errors="replace")


def _java_package(
    artifact: str,
    version: str,
    group: str,
    licenses: list[str],
    path: str,
    location: str,
    files: Files,
) -> Package:
    group_parts = [p for p in group.split(".") if p and p not in ("com", "org", "io", "net", "de")]
    vendors = [group, *group_parts[:1], artifact]
    if group.startswith(("org.apache", "commons-")):
        vendors.insert(0, "apache")  # Apache Commons and the like are filed under apache
    return Package(
        name=artifact,
        version=version,
        type=PackageType.JAVA,
        purl=purl(
            "maven",
            artifact,
            None if version == UNKNOWN_VERSION else version,
            namespace=group or artifact,
        ),
        cpes=cpes(vendors, [artifact], "" if version == UNKNOWN_VERSION else version),
        licenses=tuple(dict.fromkeys(licenses)),
        evidence=(files.evidence(path),),
        metadata={"virtual_path": location, **({"group_id": group} if group else {})},
    )
