"""Version order per ecosystem: one entry point over the schemes.

:data:`SCHEMES` names each order (``dpkg``, ``apk``, ``rpm``, ``pep440``, ``npm``,
``cargo``, ``go``, ``semver``, ``maven``, ``gem``); :func:`scheme_for` gives the scheme of
an OSV ecosystem name (``Debian:12`` -> ``dpkg``). :func:`compare` orders two versions,
:func:`version_key` gives a sortable key (cached: matching compares the same installed
version with many advisories). An invalid version raises :class:`VersionError`.

Where each comes from (the property tests check every one against its ecosystem's tool):
dpkg through python-debian, PEP 440 through packaging, npm/Cargo/Go/SEMVER through
python-semver, RubyGems through univers; Maven, rpm and apk are written here (no library
agrees with those tools; see their modules)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key, lru_cache
from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.vuln import _ver_apk, _ver_dpkg, _ver_gem, _ver_maven, _ver_pep440, _ver_rpm
from imageforge.vuln import _ver_semver as _semver

__all__ = [
    "ECOSYSTEM_SCHEMES",
    "SCHEMES",
    "VersionError",
    "compare",
    "scheme_for",
    "valid",
    "version_key",
]


class VersionError(InvalidArgument):
    """A version string its scheme cannot read."""


_apk_key = cmp_to_key(_ver_apk.compare)
_rpm_key = cmp_to_key(_ver_rpm.compare_evr)


def _go_key(version: str) -> Any:
    return _semver.key(version)


# scheme -> (valid, key)
_KEYS: dict[str, tuple[Callable[[str], bool], Callable[[str], Any]]] = {
    "dpkg": (_ver_dpkg.valid, _ver_dpkg.key),
    "apk": (lambda v: bool(v), _apk_key),  # apk orders every string (see _ver_apk)
    "rpm": (lambda v: bool(v), _rpm_key),
    "pep440": (lambda v: bool(v.strip()), _ver_pep440.key),
    "npm": (_semver.valid, _semver.key),
    "cargo": (_semver.valid, _semver.key),
    "go": (_semver.valid, _go_key),
    "semver": (_semver.valid, _semver.key),
    "maven": (lambda v: bool(v), _ver_maven.MavenVersion),
    "gem": (_ver_gem.valid, _ver_gem.key),
}
SCHEMES = tuple(sorted(_KEYS))

# OSV ecosystem names (the part before ":") -> scheme
ECOSYSTEM_SCHEMES: dict[str, str] = {
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "Alpine": "apk",
    "Wolfi": "apk",
    "Chainguard": "apk",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "openSUSE": "rpm",
    "SUSE": "rpm",
    "Photon OS": "rpm",
    "Mageia": "rpm",
    "PyPI": "pep440",
    "npm": "npm",
    "crates.io": "cargo",
    "Go": "go",
    "Maven": "maven",
    "RubyGems": "gem",
}


def scheme_for(ecosystem: str) -> str | None:
    """The version scheme of an OSV ecosystem (``Debian:12`` and ``Debian`` alike), or
    None for an ecosystem this module cannot order."""
    return ECOSYSTEM_SCHEMES.get(ecosystem.split(":", 1)[0])


@lru_cache(maxsize=65536)
def version_key(scheme: str, version: str) -> Any:
    """A key that sorts as ``scheme`` orders versions; :class:`VersionError` if
    ``version`` is not one."""
    try:
        valid, key = _KEYS[scheme]
    except KeyError:
        raise VersionError(f"unknown version scheme {scheme!r}") from None
    if not valid(version):
        raise VersionError(f"{version!r} is not a valid {scheme} version")
    try:
        return key(version)
    except (ValueError, TypeError) as exc:
        raise VersionError(f"{version!r} is not a valid {scheme} version: {exc}") from None


def valid(scheme: str, version: str) -> bool:
    try:
        version_key(scheme, version)
    except VersionError:
        return False
    return True


def compare(scheme: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``scheme`` orders ``a`` and ``b``."""
    ka, kb = version_key(scheme, a), version_key(scheme, b)
    return int(ka > kb) - int(ka < kb)
