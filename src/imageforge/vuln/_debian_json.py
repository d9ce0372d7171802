"""The Debian security tracker's JSON export (``/tracker/data/json``): one object per
source package, in it one object per CVE (``description``, ``scope``, ``debianbug``),
in that ``releases``: per release codename ``status`` (``resolved``, ``open``,
``undetermined``), ``fixed_version`` (``"0"``: never affected), ``urgency``, ``nodsa``
and ``nodsa_reason`` (``postponed``, ``ignored``, or empty for a plain no-dsa), and
``repositories`` (the versions in the archive).

Statuses as for the text data (``_debian``): resolved with a version is ``fixed``,
resolved with ``0`` not affected, open is ``affected`` unless ``nodsa_reason`` says
``ignored`` (``will_not_fix``) or ``postponed`` (``fix_deferred``), urgency
``end-of-life`` is ``end_of_life``. An object of the wrong shape is one warning naming
the package and CVE; the rest is imported."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from imageforge.vuln._ecosystems import debian_release
from imageforge.vuln._model import Advisory, Affected, Event, Range

__all__ = ["read_tracker_json"]

Warn = Callable[[str], None]


def _release(package: str, codename: str, info: Mapping[str, Any]) -> Affected:
    status = str(info.get("status", ""))
    fixed = info.get("fixed_version")
    urgency = str(info.get("urgency") or "")
    reason = str(info.get("nodsa_reason") or "")
    nodsa = str(info.get("nodsa") or "")
    note_parts = []
    if status == "resolved" and isinstance(fixed, str) and fixed and fixed != "0":
        ranges: tuple[Range, ...] = (
            Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", fixed))),
        )
        result = "fixed"
    elif status == "resolved":
        ranges, result = (), "not_affected"
    else:
        ranges = (Range("ECOSYSTEM", (Event("introduced", "0"),)),)
        result = {"ignored": "will_not_fix", "postponed": "fix_deferred"}.get(reason, "affected")
        if urgency == "end-of-life":
            result = "end_of_life"
        if status == "undetermined":
            note_parts.append("undetermined")
        if nodsa or reason:
            note_parts.append(f"{reason or 'no-dsa'}: {nodsa}".rstrip(": "))
    if urgency.startswith("unimportant"):
        note_parts.insert(0, "urgency unimportant")
    severity = (
        urgency.rstrip("*")
        if urgency.rstrip("*") in ("low", "medium", "high", "unimportant")
        else None
    )
    return Affected(
        ecosystem="Debian",
        name=package,
        release=debian_release(codename),
        ranges=ranges,
        status=result,
        severity=severity,
        note="; ".join(note_parts) or None,
    )


def read_tracker_json(path: Path, *, source: str, warn: Warn) -> Iterator[Advisory]:
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        warn(f"{path}: cannot be read ({exc.strerror}); nothing imported from it")
        return
    except ValueError as exc:
        warn(f"{path}: not valid JSON ({exc}); nothing imported from it")
        return
    if not isinstance(doc, dict):
        warn(f"{path}: not the tracker's JSON export (an object of source packages expected)")
        return
    by_cve: dict[str, list[Affected]] = {}
    titles: dict[str, str] = {}
    for package, cves in doc.items():
        if not isinstance(cves, dict):
            warn(f"{path}: package {package!r}: not an object of CVEs; skipped")
            continue
        for cve, info in cves.items():
            releases = info.get("releases") if isinstance(info, dict) else None
            if not isinstance(releases, dict):
                warn(f"{path}: {package} {cve}: no releases object; skipped")
                continue
            if isinstance(info.get("description"), str) and cve not in titles:
                titles[cve] = info["description"]
            for codename, rel in releases.items():
                if not isinstance(rel, dict):
                    warn(f"{path}: {package} {cve} {codename}: not an object; skipped")
                    continue
                by_cve.setdefault(cve, []).append(_release(package, codename, rel))
    for cve in sorted(by_cve):
        yield Advisory(
            id=cve,
            source=source,
            summary=titles.get(cve, ""),
            affected=tuple(by_cve[cve]),
            url=f"https://security-tracker.debian.org/tracker/{cve}",
        )
