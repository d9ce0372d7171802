"""JavaScript packages: installed ``package.json`` files (any with a name and a
version, as syft reports them, so a project's own manifest counts too) and the lock
files of npm (``package-lock.json`` v1, v2, v3), Yarn (``yarn.lock`` v1 and berry) and
pnpm (``pnpm-lock.yaml``).

A lock file beside an installed ``node_modules`` adds nothing the installed manifests
do not say, so it is skipped there (syft reads lock files only for directories).
The Yarn v1 lock format is not YAML and has no maintained Python parser: its small
grammar (entry headers, indented ``key value`` lines) is read here by hand; berry and
pnpm locks are YAML (PyYAML)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import yaml

from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._model import Package, PackageType
from imageforge.sbom.catalogers._common import basename, guarded, read_text
from imageforge.sbom.catalogers._licenses import license_or_text

__all__ = ["NpmCataloger"]

_LOCKS = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml")


class NpmCataloger:
    """npm packages, installed or pinned by a lock file."""

    name = "npm"

    def wants(self, info: FileInfo) -> bool:
        return info.kind == "file" and basename(info.path) in ("package.json", *_LOCKS)

    def catalog(self, files: Files, warn: Warn) -> Iterator[Package]:
        manifests: list[str] = []
        locks: list[str] = []
        for path in files.paths():
            name = basename(path)
            if name == "package.json":
                manifests.append(path)
            elif name in _LOCKS:
                locks.append(path)
        manifests = [p for p in manifests if _is_file(files, p)]
        installed_roots = {
            p.split("node_modules/", 1)[0] for p in manifests if "node_modules/" in p
        }
        locks = [p for p in locks if _is_file(files, p) and _parent(p) not in installed_roots]
        yield from guarded(manifests, lambda p: _package_json(files, p, warn), warn)
        yield from guarded(locks, lambda p: _lock(files, p, warn), warn)


def _is_file(files: Files, path: str) -> bool:
    info = files.info(path)
    return info is not None and info.kind == "file"


def _parent(path: str) -> str:
    parent = posixpath.dirname(path)
    return parent + "/" if parent else ""


def _split_name(full: str) -> tuple[str | None, str]:
    """``@scope/name`` -> (``@scope``, ``name``); ``name`` -> (None, ``name``)."""
    if full.startswith("@") and "/" in full:
        scope, name = full.split("/", 1)
        return scope, name
    return None, full


def _npm_package(
    full_name: str,
    version: str,
    path: str,
    files: Files,
    *,
    licenses: Iterable[str] = (),
    depends_on: Iterable[str] = (),
    metadata: dict[str, str] | None = None,
) -> Package:
    scope, name = _split_name(full_name)
    vendor = scope.lstrip("@") if scope else name
    return Package(
        name=full_name,
        version=version,
        type=PackageType.NPM,
        purl=purl("npm", name, version, namespace=scope),
        cpes=cpes([vendor], [name], version),
        licenses=tuple(dict.fromkeys(licenses)),
        evidence=(files.evidence(path),),
        depends_on=tuple(sorted(set(depends_on))),
        metadata=metadata or {},
    )


def _license_values(doc: Mapping[str, Any]) -> list[str]:
    """``license`` (a string or ``{"type": ...}``) and the older ``licenses`` list."""
    out: list[str] = []
    values: list[Any] = []
    if "license" in doc:
        values.append(doc["license"])
    if isinstance(doc.get("licenses"), list):
        values.extend(doc["licenses"])
    for value in values:
        if isinstance(value, dict):
            value = value.get("type")
        if isinstance(value, str):
            found = license_or_text(value)
            if found:
                out.append(found)
    return out


def _names(value: Any) -> list[str]:
    return [k for k in value if isinstance(k, str)] if isinstance(value, dict) else []


def _package_json(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    try:
        doc = json.loads(text)
    except ValueError as exc:
        warn(path, f"not JSON: {exc}")
        return []
    if not isinstance(doc, dict):
        return []
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []  # a package.json that describes no package (e.g. {"type": "module"})
    metadata: dict[str, str] = {}
    author = doc.get("author")
    if isinstance(author, dict):
        author = author.get("name")
    if isinstance(author, str) and author.strip():
        metadata["author"] = author.strip()
    if isinstance(doc.get("homepage"), str):
        metadata["homepage"] = doc["homepage"]
    if doc.get("private") is True:
        metadata["private"] = "true"
    return [
        _npm_package(
            name,
            version,
            path,
            files,
            licenses=_license_values(doc),
            depends_on=_names(doc.get("dependencies")),
            metadata=metadata,
        )
    ]


# -- lock files ----------------------------------------------------------------------


def _lock(files: Files, path: str, warn: Warn) -> list[Package]:
    text = read_text(files, path, warn)
    if text is None:
        return []
    name = basename(path)
    if name == "package-lock.json":
        return _package_lock(text, path, files, warn)
    if name == "yarn.lock":
        return _yarn_lock(text, path, files, warn)
    return _pnpm_lock(text, path, files, warn)


def _package_lock(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        warn(path, f"not JSON: {exc}")
        return []
    if not isinstance(doc, dict):
        warn(path, "not a package-lock object")
        return []
    found: dict[tuple[str, str], Package] = {}
    packages = doc.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        for key, entry in sorted(packages.items()):
            if not key or not isinstance(entry, dict) or entry.get("link") is True:
                continue  # the project itself, or a workspace link
            if "node_modules/" not in key:
                continue  # a workspace package's own directory
            name = entry.get("name") or key.rsplit("node_modules/", 1)[1]
            version = entry.get("version")
            if not isinstance(name, str) or not isinstance(version, str) or not version:
                continue
            found.setdefault(
                (name, version),
                _npm_package(
                    name,
                    version,
                    path,
                    files,
                    licenses=_license_values(entry),
                    depends_on=_names(entry.get("dependencies")),
                ),
            )
        return list(found.values())
    stack: list[Any] = [doc.get("dependencies")]  # lockfileVersion 1: a nested tree
    while stack:
        tree = stack.pop()
        if not isinstance(tree, dict):
            continue
        for name, entry in tree.items():
            if not isinstance(entry, dict):
                continue
            version = entry.get("version")
            if isinstance(version, str) and version and not version.startswith("file:"):
                requires = _names(entry.get("requires"))
                found.setdefault(
                    (name, version),
                    _npm_package(name, version, path, files, depends_on=requires),
                )
            stack.append(entry.get("dependencies"))
    return sorted(found.values(), key=lambda p: (p.name, p.version))


_YARN_KEY = re.compile(r'^"?((?:@[^@/"\s]+/)?[^@"\s,]+)@')


def _yarn_lock(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    if "__metadata:" in text:
        return _yarn_berry(text, path, files, warn)
    found: dict[tuple[str, str], Package] = {}
    name: str | None = None
    version: str | None = None
    deps: list[str] = []
    in_deps = False

    def flush() -> None:
        if name and version:
            found.setdefault(
                (name, version), _npm_package(name, version, path, files, depends_on=deps)
            )

    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        stripped = line.strip()
        if indent == 0:
            flush()
            match = _YARN_KEY.match(stripped)
            name, version, deps, in_deps = (match.group(1) if match else None), None, [], False
        elif indent == 2:
            in_deps = stripped.rstrip(":") in ("dependencies", "optionalDependencies")
            if stripped.startswith("version "):
                version = stripped.split(None, 1)[1].strip('"')
        elif indent >= 4 and in_deps:
            deps.append(stripped.split(None, 1)[0].strip('"'))
    flush()
    return sorted(found.values(), key=lambda p: (p.name, p.version))


def _yarn_berry(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        warn(path, f"not YAML: {exc}")
        return []
    if not isinstance(doc, dict):
        return []
    found: dict[tuple[str, str], Package] = {}
    for key, entry in doc.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        resolution = str(entry.get("resolution", ""))
        if any(tag in resolution for tag in ("@workspace:", "@link:", "@portal:")):
            continue
        match = _YARN_KEY.match(str(key))
        version = entry.get("version")
        if match is None or version is None:
            continue
        name, version = match.group(1), str(version)
        found.setdefault(
            (name, version),
            _npm_package(name, version, path, files, depends_on=_names(entry.get("dependencies"))),
        )
    return sorted(found.values(), key=lambda p: (p.name, p.version))


_PNPM_V5 = re.compile(r"^((?:@[^/@]+/)?[^/@]+)/([^/@]+(?:_.*)?)$")


def _pnpm_key(key: str) -> tuple[str, str] | None:
    """``/name/1.0.0_peer@2`` (v5), ``/@s/name@1.0.0(peer@2)`` (v6), ``name@1.0.0`` (v9)."""
    key = key.lstrip("/").split("(", 1)[0]
    v5 = _PNPM_V5.match(key.split("_", 1)[0])
    if v5:
        return v5.group(1), v5.group(2)
    at = key.rfind("@")
    if at <= 0:
        return None
    return key[:at], key[at + 1 :]


def _pnpm_lock(text: str, path: str, files: Files, warn: Warn) -> list[Package]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        warn(path, f"not YAML: {exc}")
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("packages", {}), dict):
        warn(path, "not a pnpm lock file")
        return []
    snapshots = doc.get("snapshots") if isinstance(doc.get("snapshots"), dict) else {}
    found: dict[tuple[str, str], Package] = {}
    for key, entry in (doc.get("packages") or {}).items():
        parsed = _pnpm_key(str(key))
        if parsed is None:
            continue
        name, version = parsed
        entry = entry if isinstance(entry, dict) else {}
        deps = _names(entry.get("dependencies"))
        snap = snapshots.get(key) if isinstance(snapshots, dict) else None
        if isinstance(snap, dict):
            deps += _names(snap.get("dependencies"))
        found.setdefault((name, version), _npm_package(name, version, path, files, depends_on=deps))
    return sorted(found.values(), key=lambda p: (p.name, p.version))
