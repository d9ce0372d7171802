"""Debian architectures and the platforms an image names: ``--arch`` takes either
spelling (``arm64``, ``armhf`` or ``arm``, ``ppc64el`` or ``ppc64le``), and packages for
a foreign one are fetched through APT with a private package list of that architecture,
so the host's own APT state (its architectures, its lists) is never changed.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import InvalidArgument
from imageforge.oci import Platform

__all__ = ["DebianArch", "apt_options_for", "debian_arch", "host_debian_arch"]

# Debian architecture -> the platform its images are (containerd's names).
_PLATFORMS = {
    "amd64": Platform("linux", "amd64"),
    "arm64": Platform("linux", "arm64", "v8"),
    "armhf": Platform("linux", "arm", "v7"),
    "armel": Platform("linux", "arm", "v5"),
    "i386": Platform("linux", "386"),
    "ppc64el": Platform("linux", "ppc64le"),
    "s390x": Platform("linux", "s390x"),
    "riscv64": Platform("linux", "riscv64"),
    "mips64el": Platform("linux", "mips64le"),
}
# Go's (and so OCI's) names that are not Debian's.
_GO_NAMES = {"arm": "armhf", "386": "i386", "ppc64le": "ppc64el", "mips64le": "mips64el"}


@dataclass(frozen=True)
class DebianArch:
    """A Debian architecture (``name``) and the platform its images are."""

    name: str
    platform: Platform


def debian_arch(text: str) -> DebianArch:
    """``--arch``: a Debian architecture or a platform (``linux/arm64``, ``arm/v7``)."""
    value = text.strip().lower()
    if "/" in value:
        plat = Platform.parse(value)
        for name, known in _PLATFORMS.items():
            if known.matches(plat):
                return DebianArch(name, known)
        value = plat.architecture
    name = _GO_NAMES.get(value, value)
    if name not in _PLATFORMS:
        raise InvalidArgument(
            f"--arch {text!r}: not a Debian architecture imageforge knows",
            hint=f"use one of {', '.join(sorted(_PLATFORMS))}",
        )
    return DebianArch(name, _PLATFORMS[name])


def host_debian_arch() -> str:
    """This machine's Debian architecture (``dpkg --print-architecture``)."""
    try:
        out = subprocess.run(
            ["dpkg", "--print-architecture"], capture_output=True, text=True, timeout=30
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def apt_options_for(arch: str, state: Path) -> list[str]:
    """``apt-get`` options that make APT see only ``arch``'s packages, with its package
    lists and cache under ``state`` (the host's keyrings still verify what it fetches)."""
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    settings = {
        "Dir::State::Lists": str(state / "lists"),
        "Dir::Cache": str(state / "cache"),
        "Dir::State::status": "/dev/null",
        "APT::Architecture": arch,
        "APT::Architectures::": arch,
        "Acquire::Languages": "none",
        # As root APT drops to the _apt user to download, who cannot write to a
        # private temp dir; downloads are verified against the signed index all the same.
        "APT::Sandbox::User": "root",
    }
    return [part for key, value in settings.items() for part in ("-o", f"{key}={value}")]
