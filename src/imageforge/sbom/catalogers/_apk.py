"""Alpine packages from apk's installed database, ``lib/apk/db/installed``: one
paragraph per package of ``K:value`` lines (P name, V version, A arch, L license,
o origin, m maintainer, D depends, p provides, F directory and R file in it)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from imageforge.errors import ImageforgeError
from imageforge.layers import resolve_in_view
from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._ids import cpes, purl
from imageforge.sbom._licenses import normalize_license
from imageforge.sbom._model import Package, PackageType

__all__ = ["ApkCataloger"]

INSTALLED = "lib/apk/db/installed"
MAX_DB = 64 << 20
_CONSTRAINT = re.compile(r"[<>=~].*$")


@dataclass
class _Record:
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _records(text: str) -> Iterator[_Record]:
    current: _Record | None = None
    directory = ""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if current is not None:
                yield current
            current, directory = None, ""
            continue
        if current is None:
            current = _Record(number)
        key, colon, value = line.partition(":")
        if not colon or len(key) != 1:
            continue
        if key == "D":
            current.depends.extend(value.split())
        elif key == "p":
            current.provides.extend(value.split())
        elif key == "F":
            directory = value.strip("/")
        elif key == "R":
            current.files.append(f"{directory}/{value}" if directory else value)
        else:
            current.fields.setdefault(key, value)
    if current is not None:
        yield current


def _bare(name: str) -> str:
    return _CONSTRAINT.sub("", name)


def _licenses(text: str) -> tuple[str, ...]:
    text = text.strip()
    if not text:
        return ()
    whole = normalize_license(text)
    if whole is not None:
        return (whole,)
    return tuple(dict.fromkeys(normalize_license(t) or t for t in text.split()))


class ApkCataloger:
    """``apk`` packages: purl ``pkg:apk/alpine/NAME@VERSION?arch=..&upstream=ORIGIN``
    (the run sets the namespace and ``distro=`` from os-release)."""

    name = "apk"

    def wants(self, info: FileInfo) -> bool:
        return info.path == INSTALLED

    def catalog(self, files: Files, warn: Warn) -> Iterable[Package]:
        real = resolve_in_view(files.info, INSTALLED)
        info = None if real is None else files.info(real)
        if real is None or info is None or info.kind != "file":
            return []
        if info.size > MAX_DB:
            warn(INSTALLED, f"{info.size} bytes, more than the {MAX_DB >> 20} MiB read; skipped")
            return []
        try:
            text = files.read(real).decode("utf-8", "replace")
        except ImageforgeError as exc:
            warn(INSTALLED, f"cannot read: {exc}")
            return []
        if text and not text.endswith("\n"):
            warn(
                INSTALLED,
                f"line {text.count(chr(10)) + 1}: the file ends inside a line (truncated?)",
            )
        records = []
        for record in _records(text):
            if not record.fields.get("P") or not record.fields.get("V"):
                missing = "P (name)" if not record.fields.get("P") else "V (version)"
                warn(INSTALLED, f"line {record.line}: package has no {missing} field; skipped")
                continue
            records.append(record)
        providers: dict[str, str] = {}
        for record in records:
            providers.setdefault(record.fields["P"], record.fields["P"])
        for record in records:
            for provided in record.provides:
                providers.setdefault(_bare(provided), record.fields["P"])
        evidence = files.evidence(real)
        packages = []
        for record in records:
            f = record.fields
            name, version, arch = f["P"], f["V"], f.get("A", "")
            depends = []
            for dep in record.depends:
                if dep.startswith("!"):  # a conflict, not a dependency
                    continue
                provider = providers.get(_bare(dep))
                if provider is not None and provider != name:
                    depends.append(provider)
            origin = f.get("o") or None
            packages.append(
                Package(
                    name=name,
                    version=version,
                    type=PackageType.APK,
                    purl=purl(
                        "apk",
                        name,
                        version,
                        namespace="alpine",
                        qualifiers={"arch": arch, "upstream": origin or ""},
                    ),
                    cpes=cpes([name], [name], version),
                    licenses=_licenses(f.get("L", "")),
                    evidence=(evidence,),
                    source_name=origin,
                    source_version=version if origin else None,
                    supplier=f.get("m") or None,
                    files=tuple(sorted(set(record.files))),
                    depends_on=tuple(dict.fromkeys(depends)),
                    metadata={
                        k: v
                        for k, v in (
                            ("architecture", arch),
                            ("url", f.get("U", "")),
                            ("description", f.get("T", "")),
                            ("commit", f.get("c", "")),
                        )
                        if v
                    },
                )
            )
        return packages
