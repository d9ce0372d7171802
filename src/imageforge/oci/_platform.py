"""Platforms (``linux/arm64/v8``): parsing, normalisation and matching, as containerd's
``platforms`` package does it (``aarch64`` is ``arm64``, ``arm64`` means ``arm64/v8``,
``arm`` means ``arm/v7``)."""

from __future__ import annotations

import platform as _host
import re
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument

__all__ = ["Platform", "host_platform"]

_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}
_OS_ALIASES = {"macos": "darwin"}
# Kernel machine names (``uname -m``) that are no platform's architecture name.
_MACHINE_ALIASES = {"i486": "386", "i586": "386", "loongarch64": "loong64"}


@dataclass(frozen=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``os/arch[/variant]``; also a bare ``arch`` (os linux)."""
        parts = text.strip().lower().split("/")
        if not text.strip() or any(not p for p in parts) or len(parts) > 3:
            raise InvalidArgument(
                f"invalid platform {text!r}: expected os/arch[/variant], e.g. linux/arm64/v8"
            )
        if len(parts) == 1:
            return cls("linux", parts[0]).normalized()
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "").normalized()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Platform:
        features = data.get("os.features")
        return cls(
            os=str(data.get("os", "")),
            architecture=str(data.get("architecture", "")),
            variant=str(data.get("variant", "") or ""),
            os_version=str(data.get("os.version", "") or ""),
            os_features=tuple(str(f) for f in features) if isinstance(features, list) else (),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        return out

    def normalized(self) -> Platform:
        os_ = _OS_ALIASES.get(self.os, self.os)
        arch = _ARCH_ALIASES.get(self.architecture, self.architecture)
        variant = self.variant
        if arch == "arm" and variant in ("", "7"):
            variant = "v7"
        if arch == "arm" and variant in ("5", "6", "8"):
            variant = "v" + variant
        if arch == "arm64" and variant in ("", "8"):
            variant = "v8"
        if arch == "amd64" and variant == "v1":
            variant = ""
        return Platform(os_, arch, variant, self.os_version, self.os_features)

    def matches(self, wanted: Platform) -> bool:
        """True if an image for this platform satisfies a request for ``wanted``."""
        a, b = self.normalized(), wanted.normalized()
        return a.os == b.os and a.architecture == b.architecture and a.variant == b.variant

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def host_platform(machine: str | None = None) -> Platform:
    """The platform of this machine (``linux/amd64`` here), from the kernel's machine
    name (or ``machine``, as ``uname -m`` gives it): ``x86_64`` is ``amd64``, ``aarch64``
    ``arm64/v8``, ``armv7l`` ``arm/v7``, ``i586`` ``386``. The one definition: builds,
    pulls, imports, ``BUILDPLATFORM`` and the seccomp profile's architecture all ask
    this."""
    name = (machine or _host.machine()).lower()
    arm = re.fullmatch(r"armv(\d+)[a-z]*", name)
    if arm:
        return Platform("linux", "arm", f"v{arm.group(1)}").normalized()
    return Platform("linux", _MACHINE_ALIASES.get(name, name)).normalized()
