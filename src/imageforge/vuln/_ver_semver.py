"""Semantic Versioning 2.0.0 order for npm, Cargo (crates.io) and Go modules, through
the ``semver`` library (python-semver), which agrees with node's ``semver`` package on
strict versions (checked in the property tests).

- npm: node-semver's parser also takes a leading ``v`` or ``=`` and surrounding blanks;
  so does this one. Build metadata (``+build``) does not count in the order.
- Cargo: the same order (pre-releases below the release, identifiers compared
  numerically or in ASCII order, numeric ones lower).
- Go: module versions carry a ``v`` (``v1.2.3``), pseudo-versions are pre-releases
  (``v0.0.0-20191109021931-daa7c04131f5``) and ``+incompatible`` is build metadata, so
  they sort as semver says. Go toolchain versions (``go1.21rc2``, the standard library's
  version in a binary) are turned into the semver form the Go vulnerability database
  uses (``1.21.0-rc.2``) by :func:`go_toolchain_semver`.
"""

from __future__ import annotations

import re

import semver

__all__ = ["compare", "go_toolchain_semver", "key", "valid"]


def _clean(version: str) -> str:
    text = version.strip()
    while text[:1] in ("v", "=", "V"):
        text = text[1:].lstrip()
    return text


def key(version: str) -> semver.Version:
    """The comparable form; ``ValueError`` if ``version`` is not semver."""
    return semver.Version.parse(_clean(version))


def valid(version: str) -> bool:
    try:
        key(version)
    except (ValueError, TypeError):
        return False
    return True


def compare(a: str, b: str) -> int:
    return key(a).compare(key(b))


_GO_TOOLCHAIN = re.compile(r"^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(alpha|beta|rc)(\d+))?$")


def go_toolchain_semver(version: str) -> str | None:
    """``go1.20`` -> ``1.20.0``, ``go1.21rc2`` -> ``1.21.0-rc.2``, ``1.22.3`` unchanged;
    None when ``version`` is not a Go release name (``devel ...``)."""
    m = _GO_TOOLCHAIN.match(version.strip().split(" ", 1)[0])
    if m is None:
        return None
    major, minor, patch, pre, pre_no = m.groups()
    out = f"{major}.{minor or 0}.{patch or 0}"
    if pre:
        out += f"-{pre}.{pre_no}"
    return out
