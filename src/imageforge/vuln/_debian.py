"""Debian's security tracker: its text data (``data/CVE/list``, ``data/DSA/list``,
``data/DLA/list``, the files its own tools and trivy's Debian feed are built from) read
into advisories, one per CVE, with one :class:`Affected` per source package and release.

How a release's status is decided, for a source package named on a CVE:

1. the CVE entry's own line for the release (``[bookworm] - curl 7.88.1-10+deb12u4``,
   or ``<no-dsa>``, ``<ignored>``, ``<postponed>``, ``<not-affected>``, ``<end-of-life>``);
2. else a DSA or DLA naming the CVE that fixed the package in that release (the CVE line
   may name only the version fixed in sid while DSA-5523-1 fixed bookworm);
3. else the unstable (sid) line, which every release without its own word inherits: a
   version there is the fix (a release's older version is affected, a newer one not),
   ``<unfixed>`` affects every version.

Statuses: a version is ``fixed``; ``<unfixed>``, ``<no-dsa>`` (no advisory planned, minor
issue) and ``<removed>`` are ``affected``; ``<ignored>`` is ``will_not_fix``;
``<postponed>`` is ``fix_deferred``; ``<end-of-life>`` is ``end_of_life``;
``<not-affected>`` is recorded as not affected so that the sid line does not apply. An
urgency (``low``, ``medium``, ``high``, ``unimportant``, written on the sid line and
shared by the release lines) is the package's severity;
``unimportant`` is marked so matching can leave it out. A line the format does not
allow is one warning naming file and line; the rest of the entry is kept."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from imageforge.vuln._ecosystems import debian_release
from imageforge.vuln._model import Advisory, Affected, Event, Range

__all__ = ["parse_advisory_list", "parse_cve_list", "read_tracker"]

Warn = Callable[[str], None]

_CVE_HEADER = re.compile(r"^(CVE-\d{4}-(?:\d{4,}|X+)|TEMP-\d+-[0-9A-F]+)(?:\s+(.*))?$")
_ADV_HEADER = re.compile(r"^\[(\d{1,2} \w{3} \d{4})\] ((?:DSA|DLA|DTSA)-[\w-]+) (\S+)(?: - (.*))?$")
_PKG_LINE = re.compile(
    r"^(?:\[(?P<release>[a-z-]+)\]\s+)?-\s+(?P<pkg>[a-z0-9][a-z0-9+.-]*)"
    r"(?:\s+(?P<what><[a-z-]+>|[0-9][^\s()]*))?\s*(?:\((?P<notes>[^)]*)\)?)?\s*$"
)
_REFS = re.compile(r"^\{([^}]*)\}\s*$")
_URGENCIES = {"unimportant", "low", "medium", "high", "not yet assigned", "end-of-life"}
_STATUS = {
    "<unfixed>": "affected",
    "<no-dsa>": "affected",
    "<removed>": "affected",
    "<undetermined>": "affected",
    "<ignored>": "will_not_fix",
    "<postponed>": "fix_deferred",
    "<end-of-life>": "end_of_life",
    "<not-affected>": "not_affected",
}
_OTHER = ("NOTE:", "TODO:", "RESERVED", "REJECTED", "NOT-FOR-US:", "DEBIANBUG", "HELP:")


@dataclass
class _Line:
    release: str  # "" for the unstable line
    package: str
    what: str | None  # a version or <status>
    notes: str


@dataclass
class _Entry:
    id: str
    title: str
    lines: list[_Line] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)


def _entries(
    text: str, header: re.Pattern[str], name: str, warn: Warn
) -> Iterator[tuple[re.Match[str], list[tuple[int, str]]]]:
    current: re.Match[str] | None = None
    body: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if raw.startswith(("\t", " ")):
            if current is None:
                warn(f"{name}:{lineno}: annotation before any entry; skipped")
            else:
                body.append((lineno, raw.strip()))
            continue
        m = header.match(raw.rstrip())
        if current is not None:
            yield current, body
        current, body = m, []
        if m is None:
            warn(f"{name}:{lineno}: not an entry header: {raw[:80]!r}; entry skipped")
    if current is not None:
        yield current, body


def _annotations(entry: _Entry, body: list[tuple[int, str]], name: str, warn: Warn) -> None:
    for lineno, line in body:
        refs = _REFS.match(line)
        if refs:
            entry.refs += refs.group(1).split()
            continue
        if line.startswith(_OTHER):
            continue
        m = _PKG_LINE.match(line)
        if m is None or m.group("what") is None:
            warn(f"{name}:{lineno}: {entry.id}: cannot read {line[:80]!r}; line skipped")
            continue
        entry.lines.append(
            _Line(m.group("release") or "", m.group("pkg"), m.group("what"), m.group("notes") or "")
        )


def parse_cve_list(text: str, name: str, warn: Warn) -> list[_Entry]:
    out: list[_Entry] = []
    for m, body in _entries(text, _CVE_HEADER, name, warn):
        if m is None or "XXXX" in m.group(1):
            continue
        title = (m.group(2) or "").strip()
        if title[:1] in "([" and title[-1:] in ")]":
            title = title[1:-1].strip()
        entry = _Entry(m.group(1), title.removesuffix("...").strip())
        _annotations(entry, body, name, warn)
        out.append(entry)
    return out


def parse_advisory_list(text: str, name: str, warn: Warn) -> list[_Entry]:
    """DSA/DLA entries: their CVE references and per-release fixed versions."""
    out: list[_Entry] = []
    for m, body in _entries(text, _ADV_HEADER, name, warn):
        entry = _Entry(m.group(2), f"{m.group(3)} - {m.group(4) or ''}".strip())
        _annotations(entry, body, name, warn)
        out.append(entry)
    return out


def _notes(notes: str) -> tuple[str | None, str]:
    urgency = None
    rest = []
    for part in (p.strip() for p in notes.split(";")):
        if part.lower() in _URGENCIES:
            urgency = part.lower()
        elif part and not part.startswith("bug #"):
            rest.append(part)
    return urgency, "; ".join(rest)


def _affected(line: _Line, release: str, note_prefix: str = "") -> Affected:
    urgency, reason = _notes(line.notes)
    what = line.what or ""
    note = None
    if what.startswith("<"):
        status = _STATUS.get(what, "affected")
        ranges: tuple[Range, ...] = ()
        if status != "not_affected":
            ranges = (Range("ECOSYSTEM", (Event("introduced", "0"),)),)
        tag = what.strip("<>")
        note = f"{tag}: {reason}" if reason else tag
    else:
        status = "fixed"
        ranges = (Range("ECOSYSTEM", (Event("introduced", "0"), Event("fixed", what))),)
        if reason:
            note = reason
    if urgency == "unimportant":
        note = f"urgency unimportant{'; ' + note if note else ''}"
    if note_prefix:
        note = f"{note_prefix}{'; ' + note if note else ''}"
    return Affected(
        ecosystem="Debian",
        name=line.package,
        release=release,
        ranges=ranges,
        status=status,
        severity=urgency if urgency not in (None, "not yet assigned", "end-of-life") else None,
        note=note,
    )


def _inherit(entry: Affected, sid: Affected) -> Affected:
    if entry.severity is not None or sid.severity is None:
        return entry
    note = entry.note
    if sid.severity == "unimportant" and not (note or "").startswith("urgency unimportant"):
        note = f"urgency unimportant{'; ' + note if note else ''}"
    return replace(entry, severity=sid.severity, note=note)


def read_tracker(root: Path, *, source: str, warn: Warn) -> Iterator[Advisory]:
    """Advisories from a tracker checkout (or excerpt) at ``root``: ``data/CVE/list`` and
    whatever of ``data/DSA/list`` and ``data/DLA/list`` exist."""
    cve_path = root / "data" / "CVE" / "list"
    try:
        cve_text = cve_path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        warn(f"{cve_path}: cannot be read ({exc.strerror}); nothing imported from {root}")
        return
    # CVE -> [(release, package, version, advisory id)]
    fixes: dict[str, list[tuple[str, str, str, str]]] = {}
    for kind in ("DSA", "DLA"):
        path = root / "data" / kind / "list"
        if not path.exists():
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            warn(f"{path}: cannot be read ({exc.strerror}); its fixes are not used")
            continue
        for adv in parse_advisory_list(text, str(path), warn):
            for cve in adv.refs:
                for line in adv.lines:
                    if line.release and line.what and not line.what.startswith("<"):
                        fixes.setdefault(cve, []).append(
                            (line.release, line.package, line.what, adv.id)
                        )
    for entry in parse_cve_list(cve_text, str(cve_path), warn):
        affected: list[Affected] = []
        for line in entry.lines:
            release = debian_release(line.release) if line.release else ""
            affected.append(_affected(line, release))
        explicit = {(a.name, a.release) for a in affected}
        for release, package, version, adv_id in fixes.get(entry.id, ()):
            rel = debian_release(release)
            if (package, rel) in explicit:
                continue
            explicit.add((package, rel))
            affected.append(
                _affected(_Line(release, package, version, ""), rel, f"fixed in {adv_id}")
            )
        # an urgency is written on the sid line; the releases' lines share it
        sid = {a.name: a for a in affected if a.release == ""}
        affected = [
            _inherit(a, sid[a.name]) if a.release and a.name in sid else a for a in affected
        ]
        refs = tuple(r for r in dict.fromkeys(entry.refs) if r.startswith(("DSA-", "DLA-")))
        yield Advisory(
            id=entry.id,
            source=source,
            related=refs,
            summary=entry.title,
            affected=tuple(affected),
            url=f"https://security-tracker.debian.org/tracker/{entry.id}",
        )
