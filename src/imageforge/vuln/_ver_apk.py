"""Alpine apk version order, written here from apk-tools' documented rules (its
``version.c`` semantics and its ``test/version.data`` cases): no Python library follows
them (univers' AlpineLinuxVersion is Gentoo's order, which differs).

A version is ``digit{.digit}...{letter}{_suffix{number}}...{-r#}``, read as a series of
tokens: numbers (a number after a ``.`` that starts with ``0`` is compared by its count of
leading zeros, negated, so ``1.01 < 1.1`` and ``1.001 < 1.01``), one lower-case letter,
suffixes (``_alpha < _beta < _pre < _rc`` are pre-releases and sort before the bare
version; ``_cvs``, ``_svn``, ``_git``, ``_hg``, ``_p`` come after it) each with an optional
number, and the revision ``-rN``. Tokens are compared in turn while their kinds agree;
when one version ends or switches to another kind of token first, a pre-release suffix
makes it lower, otherwise the version whose next token comes later in the order above
(number, letter, suffix, suffix number, revision, end) is the lower one. A version that
breaks the grammar (``1.0bc``) is compared as apk does: token by token up to the break,
and the break itself counts as the lowest kind."""

from __future__ import annotations

__all__ = ["compare", "valid"]

# token kinds, in apk's order
_INVALID, _DIGIT_OR_ZERO, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _REVISION_NO, _END = range(-1, 7)
_PRE = ("alpha", "beta", "pre", "rc")
_POST = ("cvs", "svn", "git", "hg", "p")


def _next_kind(kind: int, text: str, pos: int) -> tuple[int, int]:
    """The kind of the token at ``pos`` after a token of ``kind``, and where it starts."""
    if pos >= len(text):
        return _END, pos
    ch = text[pos]
    if kind in (_DIGIT, _DIGIT_OR_ZERO) and "a" <= ch <= "z":
        new = _LETTER
    elif kind == _LETTER and ch.isdigit():
        new = _DIGIT
    elif kind == _SUFFIX and ch.isdigit():
        new = _SUFFIX_NO
    else:
        new = _INVALID
        if ch == ".":
            new = _DIGIT_OR_ZERO
        elif ch == "_":
            new = _SUFFIX
        elif ch == "-" and text[pos + 1 : pos + 2] == "r":
            new = _REVISION_NO
            pos += 1
        pos += 1
    if new < kind and not (
        (new == _DIGIT_OR_ZERO and kind == _DIGIT)
        or (new == _SUFFIX and kind == _SUFFIX_NO)
        or (new == _DIGIT and kind == _LETTER)
    ):
        new = _INVALID
    return new, pos


def _token(kind: int, text: str, pos: int) -> tuple[int, int, int]:
    """(value, next kind, next position) of the token of ``kind`` at ``pos``."""
    if pos >= len(text):
        return 0, _END, pos
    start = pos
    value = 0
    forced = _INVALID
    if kind == _DIGIT_OR_ZERO and text[pos] == "0":
        while pos < len(text) and text[pos] == "0":
            pos += 1
        value = -(pos - start)
        forced = _DIGIT
    elif kind in (_DIGIT, _DIGIT_OR_ZERO, _SUFFIX_NO, _REVISION_NO):
        while pos < len(text) and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        value = int(text[start:pos]) if pos > start else 0
    elif kind == _LETTER:
        value = ord(text[pos])
        pos += 1
    elif kind == _SUFFIX:
        for n, name in enumerate(_PRE):
            if text.startswith(name, pos):
                value, pos = n - len(_PRE), pos + len(name)
                break
        else:
            for n, name in enumerate(_POST):
                if text.startswith(name, pos):
                    value, pos = n, pos + len(name)
                    break
            else:
                return -1, _INVALID, pos
    else:
        return -1, _INVALID, pos
    if pos >= len(text):
        return value, _END, pos
    if forced != _INVALID:
        return value, forced, pos
    kind, pos = _next_kind(kind, text, pos)
    return value, kind, pos


def valid(version: str) -> bool:
    kind, pos = _DIGIT, 0
    while kind not in (_END, _INVALID):
        _, kind, pos = _token(kind, version, pos)
    return kind == _END


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``apk version -t`` orders ``a`` and ``b``."""
    ak = bk = _DIGIT
    av = bv = 0
    ap = bp = 0
    while ak == bk and ak not in (_END, _INVALID) and av == bv:
        av, ak, ap = _token(ak, a, ap)
        bv, bk, bp = _token(bk, b, bp)
    if av != bv:
        return -1 if av < bv else 1
    if ak == bk:
        return 0
    if ak == _SUFFIX and _token(ak, a, ap)[0] < 0:
        return -1
    if bk == _SUFFIX and _token(bk, b, bp)[0] < 0:
        return 1
    if ak > bk:
        return -1
    if bk > ak:
        return 1
    return 0
