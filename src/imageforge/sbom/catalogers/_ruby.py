"""Ruby gems: installed gem specifications (``specifications/**/*.gemspec``) and
``Gemfile.lock``.

A gemspec is Ruby code; like syft, only the assignment lines RubyGems itself writes
are read (``s.name = "x".freeze``, ``s.licenses = [...]``, ``s.add_runtime_dependency``)
— nothing is evaluated. Neither format has a Python parser, so both small line grammars
are read here."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import basename, guarded, read_text
from imageforge.sbom.catalogers._licenses import license_or_text

__all__ = ["RubyCataloger"]

_ASSIGN = re.compile(r"^\s*\w+\.(\w+)\s*=\s*(.+?)\s*$")
_DEPENDENCY = re.compile(
    r"^\s*\w+\.add_(runtime_)?dependency\s*\(?\s*(%q<([^>]+)>|\"([^\"]+)\"|'([^']+)')"
)
_STRING = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'|%q<([^>]*)>")
_LOCK_SPEC = re.compile(r"^    (\S+) \(([^)]+)\)\s*$")
_LOCK_DEP = re.compile(r"^      (\S+)(?: \(.*\))?\s*$")
_PLATFORM = re.compile(r"-(?:x86_64|x86|aarch64|arm64|arm|universal|java|x64|i386)(?:-.*)?$")


def _strings(value: str) -> list[str]:
    return [next(g for g in m.groups() if g is not None) for m in _STRING.finditer(value)]


def _is_gemspec(path: str) -> bool:
    return path.endswith(".gemspec") and "/specifications/" in f"/{path}"


class RubyCataloger:
    """Installed gems and Gemfile.lock pins."""

    name = "ruby"

    def wants(self, info: FileInfo) -> bool:
        return info.kind == "file" and (
            _is_gemspec(info.path) or basename(info.path) == "Gemfile.lock"
        )

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        specs: list[str] = []
        locks: list[str] = []
        for path in files.paths():
            if _is_gemspec(path):
                specs.append(path)
            elif basename(path) == "Gemfile.lock":
                locks.append(path)
        specs = [p for p in specs if _is_file(files, p)]
        locks = [p for p in locks if _is_file(files, p)]
        yield from guarded(specs, lambda p: _gemspec(files, p, warn), warn)
        yield from guarded(locks, lambda p: _gemfile_lock(files, p, warn), warn)


def _is_file(files: Files, path: str) -> bool:
    info = files.info(path)
    return info is not None and info.kind == "file"


def _gem(
    name: str,
    version: str,
    path: str,
    files: Files,
    *,
    licenses: list[str] | None = None,
    depends_on: list[str] | None = None,
    package_files: tuple[str, ...] = (),
    metadata: dict[str, str] | None = None,
) -> Package:
    return Package(
        name=name,
        version=version,
        type=PackageType.GEM,
        purl=purl("gem", name, version),
        cpes=cpes([name, "ruby-lang", "ruby"], [name], version),
        licenses=tuple(dict.fromkeys(licenses or ())),
        evidence=(files.evidence(path),),
        files=package_files,
        depends_on=tuple(sorted(set(depends_on or ()))),
        metadata=metadata or {},
    )


def _gemspec(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    fields: dict[str, list[str]] = {}
    deps: list[str] = []
    for line in text.splitlines():
        dep = _DEPENDENCY.match(line)
        if dep:
            if dep.group(1) or ".add_dependency" in line:
                deps.append(next(g for g in dep.groups()[2:] if g is not None))
            continue
        assign = _ASSIGN.match(line)
        if assign and assign.group(1) not in fields:
            fields[assign.group(1)] = _strings(assign.group(2))
    name = (fields.get("name") or [""])[0]
    version = (fields.get("version") or [""])[0]
    if not name or not version:
        warn(path, "gemspec without a name and version")
        return []
    licenses = [
        found
        for text_value in fields.get("licenses", []) + fields.get("license", [])
        if (found := license_or_text(text_value))
    ]
    gem_dir = posixpath.join(
        posixpath.dirname(posixpath.dirname(path)), "gems", f"{name}-{version}"
    )
    package_files = tuple(
        sorted({posixpath.normpath(f"/{gem_dir}/{f}") for f in fields.get("files", []) if f})
    )
    metadata = {}
    if fields.get("authors"):
        metadata["authors"] = ", ".join(fields["authors"])
    if fields.get("homepage"):
        metadata["homepage"] = fields["homepage"][0]
    return [
        _gem(
            name,
            version,
            path,
            files,
            licenses=licenses,
            depends_on=deps,
            package_files=package_files,
            metadata=metadata,
        )
    ]


def _gemfile_lock(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    found: dict[tuple[str, str], tuple[str, list[str]]] = {}
    section = ""
    current: tuple[str, str] | None = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section, current = line.strip(), None
            continue
        if section not in ("GEM", "GIT", "PATH"):
            continue
        spec = _LOCK_SPEC.match(line)
        if spec:
            name, version = spec.group(1), _PLATFORM.sub("", spec.group(2))
            current = (name, version)
            found.setdefault(current, (name, []))
            continue
        dep = _LOCK_DEP.match(line)
        if dep and current is not None:
            found[current][1].append(dep.group(1))
    return [
        _gem(name, version, path, files, depends_on=deps)
        for (name, version), (_, deps) in sorted(found.items())
    ]
