"""Which advisories a package is looked up under: its OSV ecosystem, release, name and
version, from the SBOM's package type, purl and the image's distro.

- Debian packages are looked up by their *source* package and source version (the
  tracker and Debian's OSV records name source packages; a binNMU ``1.2-3+b1`` is built
  from source ``1.2-3``), in ecosystem ``Debian`` and the release of ``/etc/os-release``
  (``VERSION_ID`` 12; none, as on testing or sid, is ``sid``). Ubuntu is ``Ubuntu``.
- Alpine packages by their origin, in ``Alpine`` release ``vX.Y``.
- rpm packages by their source name where the distro is one OSV names (Red Hat, Rocky
  Linux, AlmaLinux, openSUSE, SUSE), else not at all.
- Language packages: PyPI (PEP 503 normalised names), npm (``@scope/name``), Go (module
  path; the standard library is ``stdlib`` at the toolchain version in semver form),
  Maven (``group:artifact``), crates.io, RubyGems.

:func:`name_key` is the form names are stored and looked up in, so ``Requests`` and
``requests`` (PyPI) or ``foo_bar`` and ``foo-bar`` (crates.io) meet."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packageurl import PackageURL

from imageforge.sbom import Distro, Package, PackageType
from imageforge.vuln._ver_semver import go_toolchain_semver
from imageforge.vuln._versions import scheme_for

__all__ = [
    "DEBIAN_RELEASES",
    "Query",
    "debian_release",
    "name_key",
    "query_for",
]

# codename -> VERSION_ID, as /etc/os-release states it
DEBIAN_RELEASES = {
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    "sid": "sid",
    "unstable": "sid",
}

_RPM_DISTROS = {
    "rhel": "Red Hat",
    "rocky": "Rocky Linux",
    "almalinux": "AlmaLinux",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
    "sles": "SUSE",
}


def debian_release(codename_or_version: str) -> str:
    """``bookworm`` -> ``12``; a number stays as it is; an unknown codename too."""
    return DEBIAN_RELEASES.get(codename_or_version.strip().lower(), codename_or_version.strip())


def name_key(ecosystem: str, name: str) -> str:
    base = ecosystem.split(":", 1)[0]
    if base == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if base == "crates.io":
        return name.replace("_", "-").lower()
    if base in ("npm", "Maven", "Alpine", "Debian", "Ubuntu"):
        return name.lower()
    return name


@dataclass(frozen=True)
class Query:
    """Look ``name`` ``version`` up in ``ecosystem`` (``release``: the distro release, or
    "" for language ecosystems). ``via`` says how it was derived when it is not the
    package itself (``source package nghttp2 1.52.0-1``)."""

    ecosystem: str
    release: str
    name: str
    version: str
    scheme: str
    via: str | None = None


def _distro_release(distro: Distro | None, *, alpine: bool = False) -> str:
    if distro is None or not distro.version_id:
        return "sid" if not alpine else "edge"
    if alpine:
        parts = distro.version_id.split(".")
        return "v" + ".".join(parts[:2])
    return distro.version_id.split(".")[0] if distro.id == "debian" else distro.version_id


def _purl(pkg: Package) -> PackageURL | None:
    try:
        return PackageURL.from_string(pkg.purl)
    except ValueError:
        return None


def _is(distro: Distro | None, name: str) -> bool:
    return distro is not None and (distro.id == name or name in distro.id_like)


def query_for(pkg: Package, distro: Distro | None) -> Query | None:
    """What ``pkg`` is looked up as, or None when no ecosystem this database knows
    covers it."""
    t = pkg.type
    if t == PackageType.DEB:
        ecosystem = "Ubuntu" if distro is not None and distro.id == "ubuntu" else "Debian"
        if distro is not None and not _is(distro, "debian") and distro.id != "ubuntu":
            ecosystem = "Debian"
        name = pkg.source_name or pkg.name
        version = pkg.source_version or pkg.version
        via = None
        if (name, version) != (pkg.name, pkg.version):
            via = f"source package {name} {version}"
        return Query(ecosystem, _distro_release(distro), name, version, "dpkg", via)
    if t == PackageType.APK:
        name = pkg.source_name or pkg.name
        via = f"origin {name}" if name != pkg.name else None
        return Query("Alpine", _distro_release(distro, alpine=True), name, pkg.version, "apk", via)
    if t == PackageType.RPM:
        if distro is None or distro.id not in _RPM_DISTROS:
            return None
        return Query(
            _RPM_DISTROS[distro.id],
            _distro_release(distro),
            pkg.source_name or pkg.name,
            pkg.version,
            "rpm",
        )
    purl = _purl(pkg)
    if t == PackageType.PYTHON:
        return Query("PyPI", "", pkg.name, pkg.version, "pep440")
    if t == PackageType.NPM:
        name = pkg.name
        if purl is not None and purl.namespace:
            name = f"{purl.namespace}/{purl.name}"
        return Query("npm", "", name, pkg.version, "npm")
    if t == PackageType.GO:
        if pkg.name == "stdlib":
            release = go_toolchain_semver(pkg.version)
            if release is None:
                return None
            return Query("Go", "", "stdlib", release, "go", f"Go toolchain {pkg.version}")
        name = pkg.name
        if purl is not None and purl.namespace:
            name = f"{purl.namespace}/{purl.name}"
        if pkg.version in ("", "(devel)"):
            return None
        return Query("Go", "", name, pkg.version, "go")
    if t == PackageType.JAVA:
        group = pkg.metadata.get("group_id") or (purl.namespace if purl is not None else None)
        if not group:
            return None
        artifact = purl.name if purl is not None else pkg.name
        return Query("Maven", "", f"{group}:{artifact}", pkg.version, "maven")
    if t == PackageType.RUST:
        return Query("crates.io", "", pkg.name, pkg.version, "cargo")
    if t == PackageType.GEM:
        return Query("RubyGems", "", pkg.name, pkg.version, "gem")
    return None


def _check() -> None:  # every ecosystem above can be ordered
    for eco in (
        "Debian",
        "Ubuntu",
        "Alpine",
        "PyPI",
        "npm",
        "Go",
        "Maven",
        "crates.io",
        "RubyGems",
        *_RPM_DISTROS.values(),
    ):
        assert scheme_for(eco) is not None, eco


_check()
