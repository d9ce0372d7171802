"""The matching engine: one fast search for every rule's keywords, then the rules whose
keywords occur, then the checks and allow rules, over a file read in bounded windows.

The keyword search is one Hyperscan database of every keyword of every rule (literal,
case-insensitive, one report per rule): on text it runs at about 1 GB/s on these
machines, where a Python ``re`` alternation of the same keywords runs at 2 MB/s,
``bytes.find`` per keyword at 32 MB/s and pyahocorasick at 42 MB/s
(``benchmarks/scan_secrets.py --prefilter``). Only the rules whose keywords were seen
run their expression (Python ``re``) over the window.

A file is read in windows of :data:`WINDOW` bytes; each window starts with the last
:data:`OVERLAP` bytes of the one before, so a secret that crosses a window boundary is
whole in the next window. A match that ends in that overlap is left to the next window
(unless the file ends there) and matches are kept once by their offset in the file,
so each secret is reported once with the line it starts on. A file whose first 8 KiB
hold a NUL byte is binary and is skipped unless a rule asks for binaries.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import hyperscan

from imageforge.errors import ImageforgeError
from imageforge.secrets._builtin import is_placeholder
from imageforge.secrets._model import AllowRule, SecretRule, entropy
from imageforge.store import atomic_write, user_cache_dir

__all__ = ["OVERLAP", "WINDOW", "Engine", "Hit", "is_binary"]

WINDOW: Final = 2 << 20
"""Bytes read from a file at a time."""

OVERLAP: Final = 64 << 10
"""Bytes a window repeats of the one before: more than the longest secret a built-in rule
matches (a PGP key block)."""

_SNIFF: Final = 8192
_SNIPPET: Final = 160


def is_binary(head: bytes) -> bool:
    """Whether a file starting with ``head`` is binary: a NUL byte in its first 8 KiB
    (git's and grep's test)."""
    return b"\0" in head[:_SNIFF]


@dataclass(frozen=True)
class Hit:
    """One secret found: the rule, where (0-based byte offsets in the file of the match
    and of the secret value, the 1-based line the match starts on) and what to show:
    ``snippet`` is the line with every secret on it masked, ``masked`` the secret
    value masked. ``raw`` is the value itself: it stays in memory, is never written
    out, and is used only to check that no output holds it."""

    rule: SecretRule
    start: int
    secret_start: int
    secret_end: int
    line: int
    snippet: str
    masked: str
    raw: bytes


def mask(value: bytes, keep: int) -> str:
    """``value`` with all but its first ``keep`` bytes (a public prefix such as
    ``ghp_``) replaced by ``*``; at most 40 characters are shown."""
    shown = value[:keep].decode("ascii", "replace")
    return shown + "*" * max(4, min(len(value) - keep, 40 - len(shown)))


def _keep(rule: SecretRule, value: bytes) -> int:
    # A rule's keyword that starts the value is the token's public prefix (ghp_, AKIA,
    # glpat-): show it, as long as it is at most a third of the value.
    lower = value[:32].lower()
    best = 0
    for kw in rule.keywords:
        if lower.startswith(kw) and len(kw) * 3 <= len(value):
            best = max(best, len(kw))
    return best


@dataclass
class _Raw:
    rule: SecretRule
    start: int  # in the window
    end: int
    secret_start: int
    secret_end: int


class Engine:
    """The compiled rules: the keyword database and the allow rules, ready to scan.
    ``rules`` are tried in order; when two rules find the same value, the first is
    reported (put specific rules before generic ones)."""

    def __init__(
        self,
        rules: Sequence[SecretRule],
        allow: Sequence[AllowRule],
        exclude: Sequence[re.Pattern[bytes]] = (),
    ) -> None:
        self.rules = tuple(rules)
        self.allow = tuple(allow)
        self.exclude = tuple(exclude)
        self._order = {r.id: i for i, r in enumerate(self.rules)}
        self.binary_rules = any(r.binary for r in self.rules)
        self._db = _compile(self.rules)
        # what rules_for needs for a file, worked out once: the rules for any path, the
        # rules for some paths, the path allow rules for every rule (one expression)
        # and those for some rules
        path_allow = [a for a in self.allow if a.regex is None and a.path is not None]
        every = [_scoped(a.path.pattern) for a in path_allow if not a.rules and a.path]
        self._every_path = re.compile("|".join(every)) if every else None
        self._some_paths = tuple(a for a in path_allow if a.rules)
        self._anywhere = frozenset(
            i for i, r in enumerate(self.rules) if "file" in r.places and r.path is None
        )
        self._path_rules = tuple(
            i for i, r in enumerate(self.rules) if "file" in r.places and r.path is not None
        )
        self._by_place = {
            place: frozenset(i for i, r in enumerate(self.rules) if place in r.places)
            for place in {p for r in self.rules for p in r.places} - {"file"}
        }

    # -- which rules a file gets -----------------------------------------------------------
    def rules_for(self, place: str, path: str) -> frozenset[int] | None:
        """The indexes of the rules tried on ``path`` found in ``place``; None when no
        rule is (the file need not be read)."""
        if place != "file":
            return self._by_place.get(place)
        if self._every_path is not None and self._every_path.search(path):
            return None
        skipped: set[str] = set()
        for a in self._some_paths:
            if a.allows_path(path):
                skipped |= a.rules
        out = set(self._anywhere)
        out.update(i for i in self._path_rules if self.rules[i].applies(place, path))
        if skipped:
            out = {i for i in out if self.rules[i].id not in skipped}
        return frozenset(out) if out else None

    # -- matching --------------------------------------------------------------------------
    def _candidates(self, data: bytes, allowed: frozenset[int]) -> list[int]:
        # rule i is tried when one of its keywords occurs (id 2i, or it has none) and
        # Hyperscan's approximation of its expression matches (id 2i+1, or it has none)
        seen: set[int] = set()
        if self._db.database is not None:

            def on_match(pid: int, _from: int, _to: int, _flags: int, _ctx: object) -> None:
                seen.add(pid)

            self._db.database.scan(data, match_event_handler=on_match)
        return [
            i
            for i in sorted(allowed)
            if (2 * i in seen or i not in self._db.keyworded)
            and (2 * i + 1 in seen or i not in self._db.approximated)
        ]

    def _allowed(self, rule: SecretRule, path: str | None, value: bytes) -> bool:
        return any(a.allows(rule.id, path, value) for a in (*rule.allow, *self.allow))

    def _accept(self, rule: SecretRule, path: str | None, value: bytes) -> bool:
        if rule.min_entropy and entropy(value) < rule.min_entropy:
            return False
        if rule.placeholders and is_placeholder(value):
            return False
        if rule.check is not None and not rule.check(value):
            return False
        return not self._allowed(rule, path, value)

    def _matches(self, window: bytes, rules: frozenset[int], path: str | None) -> list[_Raw]:
        out: list[_Raw] = []
        blocks: list[tuple[int, int]] | None = None
        for i in self._candidates(window, rules):
            rule = self.rules[i]
            group = rule.secret_group if rule.secret_group in rule.regex.groupindex else 0
            for m in rule.regex.finditer(window):
                s, e = m.span(group)
                if s < 0 or s == e:
                    continue
                start = m.start()
                if rule.before is not None and not rule.before.search(
                    window, max(0, start - 64), start
                ):
                    continue
                if not self._accept(rule, path, window[s:e]):
                    continue
                if blocks is None:
                    blocks = _spans(self.exclude, window)
                if _inside(s, blocks) or _inside(s, _spans(rule.exclude, window)):
                    continue
                out.append(_Raw(rule, m.start(), m.end(), s, e))
        return out

    def scan_text(self, data: bytes, rules: frozenset[int], path: str | None) -> list[Hit]:
        """Every secret in ``data`` (a whole config value, or a small file)."""
        raws = self._matches(data, rules, path)
        return self._hits(data, raws, 0, 0)

    def scan_stream(
        self,
        read: Callable[[int], bytes],
        rules: frozenset[int],
        path: str,
        first: bytes = b"",
    ) -> list[Hit]:
        """Every secret in the file ``read`` gives (``read(n)`` returns at most ``n``
        bytes, ``b""`` at the end), in windows of :data:`WINDOW` bytes; ``first`` is
        what was already read of it."""
        found: dict[tuple[str, int], Hit] = {}
        data, eof = _fill(read, first)
        carry = b""
        base = 0  # offset in the file of the window's first byte
        lines = 0  # newlines before the window
        while True:
            window = carry + data
            raws = self._matches(window, rules, path)
            if not eof:
                # a match starting in the overlap is whole in the next window; every
                # match starting before it is whole in this one
                limit = len(window) - OVERLAP
                raws = [r for r in raws if r.start < limit]
            for hit in self._hits(window, raws, base, lines):
                found.setdefault((hit.rule.id, hit.start), hit)
            if eof:
                break
            cut = max(0, len(window) - OVERLAP)
            lines += window.count(b"\n", 0, cut)
            base += cut
            carry = window[cut:]
            data, eof = _fill(read, b"")
        return sorted(found.values(), key=lambda h: (h.start, self._order[h.rule.id]))

    def _hits(self, window: bytes, raws: list[_Raw], base: int, lines: int) -> list[Hit]:
        if not raws:
            return []
        raws.sort(key=lambda r: (r.secret_start, self._order[r.rule.id]))
        kept: list[_Raw] = []
        spans: list[tuple[int, int]] = []
        for r in raws:  # one finding per value: the first rule's
            if any(s < r.secret_end and r.secret_start < e for s, e in spans):
                continue
            kept.append(r)
            spans.append((r.secret_start, r.secret_end))
        out = []
        for r in kept:
            line_start = window.rfind(b"\n", 0, r.start) + 1
            line_end = window.find(b"\n", r.start)
            if line_end < 0:
                line_end = len(window)
            line = lines + window.count(b"\n", 0, r.start) + 1
            value = window[r.secret_start : r.secret_end]
            out.append(
                Hit(
                    rule=r.rule,
                    start=base + r.start,
                    secret_start=base + r.secret_start,
                    secret_end=base + r.secret_end,
                    line=line,
                    snippet=_snippet(window, line_start, line_end, r.secret_start, spans),
                    masked=mask(value, _keep(r.rule, value)),
                    raw=value,
                )
            )
        return out


@dataclass
class _Database:
    """The compiled search: each rule's keywords (pattern id ``2i``) and an
    approximation of its expression (``2i+1``, Hyperscan's prefilter mode: it may match
    more than the expression, never less)."""

    database: hyperscan.Database | None
    keyworded: frozenset[int]
    approximated: frozenset[int]


# Hyperscan refuses very large bounded repeats; for the approximation {32,16384} may as
# well be {32,}.
_LARGE_REPEAT: Final = re.compile(rb"\{([0-9]+),[0-9]{3,}\}\??")


def _approximation(rule: SecretRule) -> bytes:
    return _LARGE_REPEAT.sub(rb"{\1,}", rule.regex.pattern)


_GLOBAL_FLAGS: Final = re.compile(r"^\(\?([aiLmsux]+)\)")


def _scoped(pattern: str) -> str:
    """``pattern`` as a group that can stand in an alternation: its leading global flags
    (``(?i)``) made flags of the group."""
    m = _GLOBAL_FLAGS.match(pattern)
    if m is None:
        return f"(?:{pattern})"
    return f"(?{m.group(1)}:{pattern[m.end() :]})"


def _build(
    patterns: list[tuple[bytes, int, int]], *, cache: bool = False
) -> hyperscan.Database | None:
    """The database of ``patterns``; with ``cache``, kept compiled in the user's cache
    directory (compiling the built-in rules takes about 0.3 s, loading them 0.1 ms)."""
    if not patterns:
        return None
    path: Path | None = None
    if cache:
        version = getattr(hyperscan, "__version__", "")
        key = hashlib.sha256(repr((version, patterns)).encode()).hexdigest()
        path = user_cache_dir() / f"secrets-{key[:32]}.hsdb"
        try:
            loaded = hyperscan.loadb(path.read_bytes(), mode=hyperscan.HS_MODE_BLOCK)
            loaded.scratch = hyperscan.Scratch(loaded)  # compile() makes one, loadb() not
            return loaded
        except (OSError, hyperscan.HyperscanError):
            pass  # not there yet, or made for another machine: compile it
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(
        expressions=[p for p, _, _ in patterns],
        ids=[i for _, i, _ in patterns],
        flags=[f for _, _, f in patterns],
    )
    if path is not None:
        try:
            atomic_write(path, hyperscan.dumpb(db), mode=0o600)
        except (OSError, ImageforgeError):
            pass  # a read-only home: compile every time
    return db


def _compile(rules: Sequence[SecretRule]) -> _Database:
    single = hyperscan.HS_FLAG_SINGLEMATCH
    keywords: list[tuple[bytes, int, int]] = []
    approximations: list[tuple[bytes, int, int]] = []
    for i, rule in enumerate(rules):
        for kw in rule.keywords:
            literal = b"".join(b"\\x%02x" % c for c in kw)
            keywords.append((literal, 2 * i, hyperscan.HS_FLAG_CASELESS | single))
        flags = hyperscan.HS_FLAG_PREFILTER | single
        if rule.regex.flags & re.IGNORECASE:
            flags |= hyperscan.HS_FLAG_CASELESS
        approximations.append((_approximation(rule), 2 * i + 1, flags))
    try:
        database = _build(keywords + approximations, cache=True)
    except hyperscan.HyperscanError:
        # an expression Hyperscan cannot read (a custom rule in Python's own syntax):
        # that rule is tried on its keywords alone
        usable = []
        for pattern in approximations:
            try:
                _build([pattern])
            except hyperscan.HyperscanError:
                continue
            usable.append(pattern)
        approximations = usable
        database = _build(keywords + approximations)
    return _Database(
        database,
        frozenset(i // 2 for _, i, _ in keywords),
        frozenset(i // 2 for _, i, _ in approximations),
    )


def _spans(patterns: Sequence[re.Pattern[bytes]], window: bytes) -> list[tuple[int, int]]:
    return [m.span() for p in patterns for m in p.finditer(window)]


def _inside(offset: int, spans: Sequence[tuple[int, int]]) -> bool:
    return any(s <= offset < e for s, e in spans)


def _fill(read: Callable[[int], bytes], start: bytes) -> tuple[bytes, bool]:
    """Up to :data:`WINDOW` bytes (``start`` and what ``read`` adds), and whether the
    file ended."""
    parts = [start]
    size = len(start)
    while size < WINDOW:
        chunk = read(WINDOW - size)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False


def _snippet(
    window: bytes, start: int, end: int, focus: int, spans: Iterable[tuple[int, int]]
) -> str:
    """The line ``window[start:end]`` with every secret span on it masked, cut to about
    :data:`_SNIPPET` characters around ``focus``."""
    line = bytearray(window[start:end])
    for s, e in spans:
        lo, hi = max(s, start), min(e, end)
        if lo < hi:
            line[lo - start : hi - start] = b"*" * (hi - lo)
    left = max(0, focus - start - _SNIPPET // 2)
    right = min(len(line), left + _SNIPPET)
    text = bytes(line[left:right]).decode("utf-8", "replace").rstrip("\r")
    text = "".join(c if c.isprintable() or c == "\t" else "?" for c in text)
    return ("..." if left else "") + text + ("..." if right < len(line) else "")
