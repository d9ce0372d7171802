"""rpm version order (``rpmvercmp`` and EPOCH:VERSION-RELEASE), written here from rpm's
documented algorithm: no maintained Python library agrees with rpm on every string
(univers' ``vercmp`` disagrees on segments that start with a separator).

A string is compared in runs: characters other than ASCII letters, digits, ``~`` and
``^`` only separate. ``~`` sorts before anything, even the end (``1.0~rc1 < 1.0``);
``^`` sorts after the end but before anything else (``1.0 < 1.0^git1 < 1.0.1``). A
numeric run beats an alphabetic one; numeric runs compare as numbers (leading zeros
ignored), alphabetic ones byte-wise. When one string runs out, the longer one is
greater. An EVR is split as rpm does: the digits before a ``:`` are the epoch (missing:
0), the text after the last ``-`` is the release; a version with a release (even an
empty one, ``1.0-``) sorts after the same version without one, as ``rpm.vercmp`` does."""

from __future__ import annotations

__all__ = ["compare", "compare_evr", "split_evr"]


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def compare(a: str, b: str) -> int:
    """``rpmvercmp(a, b)``: -1, 0 or 1."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        while i < len(a) and not _alnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < len(b) and not _alnum(b[j]) and b[j] not in "~^":
            j += 1
        ca = a[i] if i < len(a) else ""
        cb = b[j] if j < len(b) else ""
        if ca == "~" or cb == "~":
            if ca != "~":
                return 1
            if cb != "~":
                return -1
            i, j = i + 1, j + 1
            continue
        if ca == "^" or cb == "^":
            if not ca:
                return -1
            if not cb:
                return 1
            if ca != "^":
                return 1
            if cb != "^":
                return -1
            i, j = i + 1, j + 1
            continue
        if not (ca and cb):
            break
        numeric = ca.isdigit()
        same = str.isdigit if numeric else (lambda c: c.isascii() and c.isalpha())
        ei = i
        while ei < len(a) and same(a[ei]):
            ei += 1
        ej = j
        while ej < len(b) and same(b[ej]):
            ej += 1
        if ej == j:  # b has a run of the other kind here
            return 1 if numeric else -1
        sa, sb = a[i:ei], b[j:ej]
        if numeric:
            sa, sb = sa.lstrip("0"), sb.lstrip("0")
            if len(sa) != len(sb):
                return 1 if len(sa) > len(sb) else -1
        if sa != sb:
            return 1 if sa > sb else -1
        i, j = ei, ej
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


def split_evr(evr: str) -> tuple[str, str, str | None]:
    """(epoch, version, release) as rpm parses an EVR string (release None: no ``-``)."""
    k = 0
    while k < len(evr) and evr[k].isdigit() and evr[k].isascii():
        k += 1
    if k < len(evr) and evr[k] == ":":
        epoch, rest = evr[:k] or "0", evr[k + 1 :]
    else:
        epoch, rest = "0", evr
    version, dash, release = rest.rpartition("-")
    if not dash:
        return epoch, rest, None
    return epoch, version, release


def compare_evr(a: str, b: str) -> int:
    """Order two ``[EPOCH:]VERSION[-RELEASE]`` strings as rpm does."""
    ea, va, ra = split_evr(a)
    eb, vb, rb = split_evr(b)
    result = compare(ea, eb) or compare(va, vb)
    if result or ra == rb:
        return result
    if ra is None or rb is None:
        return -1 if ra is None else 1
    return compare(ra, rb)
