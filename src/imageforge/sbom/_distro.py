"""The distribution a filesystem holds, from ``etc/os-release`` (else
``usr/lib/os-release``), symlinks followed inside the view."""

from __future__ import annotations

import shlex

from imageforge.errors import ImageforgeError
from imageforge.layers import resolve_in_view
from imageforge.sbom._files import Files, Warn
from imageforge.sbom._model import Distro

__all__ = ["OS_RELEASE_PATHS", "detect_distro", "parse_os_release"]

OS_RELEASE_PATHS = ("etc/os-release", "usr/lib/os-release")
_MAX = 64 << 10


def parse_os_release(text: str) -> dict[str, str]:
    """``KEY=value`` lines with shell quoting, as os-release(5) defines them; lines that
    do not parse are ignored."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        values[key.strip()] = " ".join(words)
    return values


def detect_distro(files: Files, warn: Warn) -> Distro | None:
    """The :class:`Distro` of the first os-release file that names an ``ID``."""
    for path in OS_RELEASE_PATHS:
        real = resolve_in_view(files.info, path)
        if real is None:
            continue
        info = files.info(real)
        if info is None or info.kind != "file":
            continue
        if info.size > _MAX:
            warn(path, f"{info.size} bytes, more than an os-release file can be; skipped")
            continue
        try:
            text = files.read(real).decode("utf-8", "replace")
        except ImageforgeError as exc:
            warn(path, f"cannot read: {exc}")
            continue
        values = parse_os_release(text)
        if not values.get("ID"):
            continue
        return Distro(
            id=values["ID"].lower(),
            version_id=values.get("VERSION_ID") or None,
            pretty_name=values.get("PRETTY_NAME") or None,
            id_like=tuple(values.get("ID_LIKE", "").split()),
        )
    return None
