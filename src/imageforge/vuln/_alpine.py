"""Alpine's secdb (``secdb.alpinelinux.org/vX.Y/main.json``, ``community.json``): per
package origin the ``secfixes`` map from the version that fixed them to CVE ids (version
``0``: never affected on Alpine). Read into one advisory per CVE with an
:class:`Affected` per (release, package). An object of the wrong shape is one warning
naming the file and package; the rest is imported."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from imageforge.vuln._model import Advisory, Affected, Event, Range

__all__ = ["read_secdb"]

Warn = Callable[[str], None]


def read_secdb(paths: list[Path], *, source: str, warn: Warn) -> Iterator[Advisory]:
    by_cve: dict[str, list[Affected]] = {}
    for path in paths:
        try:
            doc = json.loads(path.read_bytes())
            release = str(doc["distroversion"])
            packages = doc["packages"]
            if not isinstance(packages, list):
                raise TypeError("packages is not a list")
        except OSError as exc:
            warn(f"{path}: cannot be read ({exc.strerror}); skipped")
            continue
        except (ValueError, KeyError, TypeError) as exc:
            warn(f"{path}: not an Alpine secdb file ({exc}); skipped")
            continue
        for item in packages:
            pkg = item.get("pkg") if isinstance(item, dict) else None
            if not isinstance(pkg, dict) or not isinstance(pkg.get("name"), str):
                warn(f"{path}: a package entry without pkg.name; skipped")
                continue
            for version, ids in (pkg.get("secfixes") or {}).items():
                if not isinstance(ids, list):
                    warn(f"{path}: {pkg['name']} {version}: secfixes is not a list; skipped")
                    continue
                for text in ids:
                    for cve in str(text).split():
                        if not cve.startswith(("CVE-", "GHSA-", "XSA-", "ALPINE-")):
                            continue
                        if version == "0":
                            ranges: tuple[Range, ...] = ()
                            status = "not_affected"
                        else:
                            ranges = (
                                Range(
                                    "ECOSYSTEM", (Event("introduced", "0"), Event("fixed", version))
                                ),
                            )
                            status = "fixed"
                        by_cve.setdefault(cve, []).append(
                            Affected("Alpine", pkg["name"], release, ranges, status=status)
                        )
    for cve in sorted(by_cve):
        yield Advisory(id=cve, source=source, affected=tuple(by_cve[cve]))
