"""Python packages: installed distributions (``*.dist-info/METADATA`` with ``RECORD``
and ``top_level.txt``, ``*.egg-info`` files and directories) and the source-tree
manifests syft reads (``requirements*.txt`` pins, ``poetry.lock``, ``Pipfile.lock``).

Core metadata and requirement lines are parsed with ``packaging``; the rest (RECORD is
CSV, the locks TOML and JSON) with the standard library."""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import posixpath
import tomllib
from collections.abc import Iterable, Iterator
from typing import Any

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import basename, guarded, read_text
from imageforge.sbom.catalogers._licenses import (
    classifier_license,
    license_or_text,
    spdx_expression,
)

__all__ = ["PythonCataloger"]

_INSTALLED_SUFFIXES = (
    ".dist-info/METADATA",
    ".dist-info/RECORD",
    ".dist-info/top_level.txt",
    ".egg-info/PKG-INFO",
    ".egg-info/installed-files.txt",
    ".egg-info/top_level.txt",
)


def _is_requirements(name: str) -> bool:
    return fnmatch.fnmatchcase(name, "*requirements*.txt")


class PythonCataloger:
    """Python distributions, installed or pinned by a lock/requirements file."""

    name = "python"

    def wants(self, info: FileInfo) -> bool:
        if info.kind != "file":
            return False
        path = info.path
        if path.endswith(_INSTALLED_SUFFIXES) or path.endswith(".egg-info"):
            return True
        name = basename(path)
        return name in ("poetry.lock", "Pipfile.lock") or _is_requirements(name)

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        manifests: list[str] = []
        locks: list[str] = []
        for path in files.paths():
            name = basename(path)
            if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info")):
                if _exists(files, path):
                    manifests.append(path)
            elif name in ("poetry.lock", "Pipfile.lock") or _is_requirements(name):
                if _exists(files, path):
                    locks.append(path)
        yield from guarded(manifests, lambda p: _installed(files, p, warn), warn)
        yield from guarded(locks, lambda p: _lock(files, p, warn), warn)


def _python_package(
    name: str,
    version: str,
    evidence_path: str,
    files: Files,
    *,
    licenses: Iterable[str] = (),
    depends_on: Iterable[str] = (),
    package_files: tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
) -> Package:
    lower = name.lower()
    return Package(
        name=name,
        version=version,
        type=PackageType.PYTHON,
        purl=purl("pypi", name, version),
        cpes=cpes([f"python-{lower}", lower, "python"], [lower], version),
        licenses=tuple(dict.fromkeys(licenses)),
        evidence=(files.evidence(evidence_path),),
        files=package_files,
        depends_on=tuple(sorted(set(depends_on))),
        metadata=metadata or {},
    )


# -- installed distributions --------------------------------------------------------


def _requires(lines: Iterable[str]) -> list[str]:
    """PEP 503 names of the requirements that hold without an extra being asked for."""
    names: list[str] = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker is not None and "extra" in str(req.marker):
            continue
        names.append(canonicalize_name(req.name))
    return names


def _licenses(raw: Any) -> list[str]:
    expression = (raw.get("license_expression") or "").strip()
    if expression:
        found = license_or_text(expression)
        return [found] if found else []
    text = (raw.get("license") or "").strip()
    if text and "\n" not in text and len(text) <= 100:
        spdx = spdx_expression(text)
        if spdx:
            return [spdx]
    from_classifiers = [c for c in map(classifier_license, raw.get("classifiers") or []) if c]
    if from_classifiers:
        return from_classifiers
    return [text] if text and "\n" not in text and len(text) <= 100 else []


def _listed_files(files: Files, path: str, base: str, warn: Warn, *, record: bool) -> list[str]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    out = []
    if record:
        rows: Iterable[str] = (row[0] for row in csv.reader(io.StringIO(text)) if row and row[0])
    else:
        rows = (line.strip() for line in text.splitlines() if line.strip())
    for entry in rows:
        out.append(posixpath.normpath("/" + posixpath.join(base, entry)))
    return sorted(set(out))


def _installed(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    raw, _unparsed = parse_email(text)
    name = (raw.get("name") or "").strip().lower()  # syft reports Jinja2 as jinja2
    version = (raw.get("version") or "").strip()
    if not name or not version:
        warn(path, "core metadata without Name and Version")
        return []
    if path.endswith(".egg-info"):
        meta_dir = None
        site = posixpath.dirname(path)
    else:
        meta_dir = posixpath.dirname(path)
        site = posixpath.dirname(meta_dir)
    package_files: list[str] = []
    top_level: list[str] = []
    if meta_dir is not None:
        record = meta_dir + "/RECORD"
        installed = meta_dir + "/installed-files.txt"
        if _exists(files, record):
            package_files = _listed_files(files, record, site, warn, record=True)
        elif _exists(files, installed):
            package_files = _listed_files(files, installed, meta_dir, warn, record=False)
        top = meta_dir + "/top_level.txt"
        if _exists(files, top):
            top_text = read_text(files, top, warn) or ""
            top_level = [line.strip() for line in top_text.splitlines() if line.strip()]
    metadata = {"site_packages": "/" + site if site else "/"}
    for key, field in (("author", "author"), ("author_email", "author_email")):
        value = raw.get(field)
        if isinstance(value, str) and value.strip():
            metadata[key] = value.strip()
    if raw.get("home_page"):
        metadata["homepage"] = str(raw.get("home_page")).strip()
    if top_level:
        metadata["top_level"] = " ".join(top_level)
    return [
        _python_package(
            name,
            version,
            path,
            files,
            licenses=_licenses(raw),
            depends_on=_requires(raw.get("requires_dist") or []),
            package_files=tuple(package_files),
            metadata=metadata,
        )
    ]


def _exists(files: Files, path: str) -> bool:
    info = files.info(path)
    return info is not None and info.kind == "file"


# -- source-tree manifests -----------------------------------------------------------


def _lock(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    name = basename(path)
    if name == "poetry.lock":
        return _poetry(text, path, files, warn)
    if name == "Pipfile.lock":
        return _pipfile(text, path, files, warn)
    return _requirements(text, path, files)


def _poetry(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        warn(path, f"not TOML: {exc}")
        return []
    out = []
    for entry in doc.get("package", []):
        if not isinstance(entry, dict):
            continue
        name, version = entry.get("name"), entry.get("version")
        if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
            continue
        deps = entry.get("dependencies", {})
        depends = [canonicalize_name(d) for d in deps] if isinstance(deps, dict) else []
        out.append(_python_package(name, version, path, files, depends_on=depends))
    return out


def _pipfile(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        warn(path, f"not JSON: {exc}")
        return []
    if not isinstance(doc, dict):
        warn(path, "not a Pipfile.lock object")
        return []
    out: dict[str, Package] = {}
    for section in ("default", "develop"):
        entries = doc.get(section) or {}
        if not isinstance(entries, dict):
            continue
        for name, entry in sorted(entries.items()):
            if not isinstance(entry, dict):
                continue
            version = entry.get("version")
            if not isinstance(version, str) or not version.startswith("=="):
                continue
            version = version.removeprefix("==")
            out.setdefault(name, _python_package(name, version, path, files))
    return list(out.values())


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def _requirements(text: str, path: str, files: Files) -> list[Package]:
    """Only exact pins (``name==1.2``) name a version, so only those are packages (as
    syft has it); options, URLs, editables and ranges are skipped."""
    out: dict[str, Package] = {}
    for line in _logical_lines(text):
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        line = line.split(" --", 1)[0].strip()  # per-requirement options (--hash=...)
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        specs = list(req.specifier)
        if req.url or len(specs) != 1 or specs[0].operator not in ("==", "==="):
            continue
        version = specs[0].version
        if "*" in version:
            continue
        out.setdefault(req.name, _python_package(req.name, version, path, files))
    return list(out.values())
