"""The host's Debian mirror, read from its APT sources.

APT lists its sources in ``sources.list`` and ``sources.list.d/*.list`` (one line per
source: ``deb [options] URI SUITE [COMPONENT...]``) and ``sources.list.d/*.sources``
(deb822 stanzas with ``Types:``, ``URIs:``, ``Suites:`` fields). The mirror is the first
URI, in the order APT reads the files, whose path ends in ``/debian`` and that is not a
snapshot archive (snapshot.debian.org serves frozen states, not the current suite).

Hand-written: python-apt would do the parsing but is a Debian-only binding that cannot
be installed into a virtual environment from PyPI; the two formats are small.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from imageforge.errors import InvalidArgument, Location, Unavailable

__all__ = ["apt_mirror", "is_debian_mirror", "source_uris"]

_SCHEMES = frozenset({"http", "https", "ftp", "file"})
_SNAPSHOT_PATH = re.compile(r"/archive/[^/]+/\d{8}T\d{6}Z")


def is_debian_mirror(uri: str) -> bool:
    """True if ``uri`` is a Debian archive mirror: a path ending in ``/debian``, a scheme
    debootstrap can fetch from, and not snapshot.debian.org."""
    parts = urlsplit(uri)
    if parts.scheme not in _SCHEMES:
        return False
    host = (parts.hostname or "").lower()
    if host.startswith("snapshot.") or _SNAPSHOT_PATH.search(parts.path):
        return False
    return parts.path.rstrip("/").endswith("/debian")


def _one_line(path: Path, text: str) -> Iterator[str]:
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] not in ("deb", "deb-src"):
            raise InvalidArgument(
                f"APT source type {words[0]!r} is neither deb nor deb-src",
                location=Location(str(path), lineno),
                hint="fix the line (apt-get update refuses it too) or pass --mirror",
            )
        rest = words[1:]
        if rest and rest[0].startswith("["):
            # Options: "[arch=amd64 signed-by=...]", possibly spread over several words.
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) < 2:
            raise InvalidArgument(
                "APT source line has no URI and suite",
                location=Location(str(path), lineno),
                hint="expected 'deb [options] URI SUITE [COMPONENT...]'",
            )
        yield rest[0]


def _deb822(path: Path, text: str) -> Iterator[str]:
    fields: dict[str, str] = {}
    start = 0
    last = ""

    def finish() -> Iterator[str]:
        if not fields:
            return
        if fields.get("enabled", "yes").strip().lower() == "no":
            return
        uris = fields.get("uris", "").split()
        if not uris:
            raise InvalidArgument(
                "APT source stanza has no URIs field",
                location=Location(str(path), start),
                hint="add 'URIs: http://deb.debian.org/debian' or pass --mirror",
            )
        types = fields.get("types", "").split()
        if any(t in ("deb", "deb-src") for t in types):
            yield from uris

    for lineno, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#"):
            continue
        if not raw.strip():
            yield from finish()
            fields, last = {}, ""
            continue
        if raw[0] in " \t":
            if last:
                fields[last] += " " + raw.strip()
            continue
        key, sep, value = raw.partition(":")
        if not sep:
            raise InvalidArgument(
                f"APT source line {raw.strip()!r} is not 'Field: value'",
                location=Location(str(path), lineno),
                hint="fix the stanza (apt-get update refuses it too) or pass --mirror",
            )
        if not fields:
            start = lineno
        last = key.strip().lower()
        fields[last] = value.strip()
    yield from finish()


def _files(sources: Path) -> list[Path]:
    """The files APT reads, in its order: sources.list, then sources.list.d by name."""
    out = [sources / "sources.list"]
    parts = sources / "sources.list.d"
    if parts.is_dir():
        out.extend(
            p for p in sorted(parts.iterdir()) if p.suffix in (".list", ".sources") and p.is_file()
        )
    return [p for p in out if p.is_file()]


def source_uris(sources: Path = Path("/etc/apt")) -> list[str]:
    """Every URI the APT sources under ``sources`` list, in APT's order."""
    uris: list[str] = []
    for path in _files(sources):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise Unavailable(f"cannot read {path}: {exc.strerror}") from None
        parse = _deb822 if path.suffix == ".sources" else _one_line
        uris.extend(parse(path, text))
    return uris


def apt_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian mirror the host's APT uses (no trailing slash); :class:`Unavailable`
    when no source under ``sources`` is one."""
    uris = source_uris(sources)
    for uri in uris:
        if is_debian_mirror(uri):
            return uri.rstrip("/")
    seen = f" (found: {', '.join(uris)})" if uris else ""
    raise Unavailable(
        f"no Debian mirror in {sources}/sources.list or {sources}/sources.list.d{seen}",
        hint="pass the mirror yourself, e.g. --mirror http://deb.debian.org/debian",
    )
