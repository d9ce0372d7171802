"""Maven version order: what ``org.apache.maven.artifact.versioning.ComparableVersion``
(maven-artifact 3.8, Debian 12's Maven) decides, written here from its documented rules
because no Python library agrees with it (univers' MavenVersion follows a later Maven
and disagrees on ``final``/``ga``/``release`` in the middle of a version).

The rules: a version is lower-cased and cut into items at ``.`` and ``-`` and where
digits meet letters; a ``-`` (and a digit-letter switch) opens a nested list. Numbers
compare numerically; known qualifiers order ``alpha < beta < milestone < rc = cr <
snapshot < "" = ga = final < sp``, unknown qualifiers come after them in lexical order;
``a1``/``b1``/``m1`` (one letter followed by a digit) mean alpha/beta/milestone;
``release`` is the empty qualifier too. A qualifier followed by a digit, and a
qualifier that ends the version, open a nested list when the current one is not empty
(``1.0.0.X1`` is read as ``1.0.0-X1``).
Trailing "null" items (0, the empty qualifier, empty lists) are dropped from each list,
so ``1.0`` equals ``1`` and ``1-ga`` equals ``1``. A number is greater than a qualifier
and than a list; a list is greater than a qualifier. A missing item compares as null
(``1.1 > 1``, ``1-rc < 1``, ``1-sp > 1``); a list against a missing item is decided by
its first item that is not null."""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering
from typing import Union

__all__ = ["MavenVersion", "compare"]

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE = _QUALIFIERS.index("")


@dataclass(frozen=True)
class _Num:
    value: int


@dataclass(frozen=True)
class _Str:
    value: str


_Item = Union[_Num, _Str, list["_Item"]]  # noqa: UP007 - a recursive alias


def _qualifier_key(value: str) -> tuple[int, str]:
    # Maven compares "index" strings lexically: known qualifiers by their index, unknown
    # ones as "7-<name>", so they sort after every known one and among themselves by name.
    if value in _QUALIFIERS:
        return (_QUALIFIERS.index(value), "")
    return (len(_QUALIFIERS), value)


def _string_item(text: str, followed_by_digit: bool) -> _Str:
    if followed_by_digit and len(text) == 1:
        text = {"a": "alpha", "b": "beta", "m": "milestone"}.get(text, text)
    return _Str(_ALIASES.get(text, text))


def _is_null(item: _Item) -> bool:
    if isinstance(item, _Num):
        return item.value == 0
    if isinstance(item, _Str):
        return _qualifier_key(item.value) == (_RELEASE, "")
    return len(item) == 0


def _normalize(items: list[_Item]) -> None:
    for i in range(len(items) - 1, -1, -1):
        if _is_null(items[i]):
            del items[i]
        elif not isinstance(items[i], list):
            break


def parse(version: str) -> list[_Item]:
    """The item tree of ``version`` (as ComparableVersion builds it)."""
    text = version.lower()
    root: list[_Item] = []
    current = root
    lists = [root]
    digit = False
    start = 0

    def close_number_or_string(end: int) -> _Item:
        chunk = text[start:end]
        return _Num(int(chunk)) if digit else _string_item(chunk, False)

    for i, ch in enumerate(text):
        if ch == ".":
            current.append(_Num(0) if i == start else close_number_or_string(i))
            start = i + 1
        elif ch == "-":
            current.append(_Num(0) if i == start else close_number_or_string(i))
            start = i + 1
            nested: list[_Item] = []
            current.append(nested)
            current = nested
            lists.append(nested)
        elif ch.isdigit() and ch.isascii():
            if not digit and i > start:
                if current:  # ".X1" is read as "-X1"
                    nested = []
                    current.append(nested)
                    current = nested
                    lists.append(nested)
                current.append(_string_item(text[start:i], True))
                start = i
                nested = []
                current.append(nested)
                current = nested
                lists.append(nested)
            digit = True
        else:
            if digit and i > start:
                current.append(_Num(int(text[start:i])))
                start = i
                nested = []
                current.append(nested)
                current = nested
                lists.append(nested)
            digit = False
    if len(text) > start:
        if not digit and current:  # a last ".X" is read as "-X"
            nested = []
            current.append(nested)
            current = nested
            lists.append(nested)
        current.append(close_number_or_string(len(text)))
    for items in reversed(lists):
        _normalize(items)
    return root


def _cmp(a: _Item | None, b: _Item | None) -> int:
    """``a.compareTo(b)``; ``b`` None is the missing item. ``a`` is never None."""
    assert a is not None
    if isinstance(a, _Num):
        if b is None:
            return 0 if a.value == 0 else 1
        if isinstance(b, _Num):
            return (a.value > b.value) - (a.value < b.value)
        return 1
    if isinstance(a, _Str):
        if b is None:
            ka = _qualifier_key(a.value)
            return _lex(ka, (_RELEASE, ""))
        if isinstance(b, _Str):
            return _lex(_qualifier_key(a.value), _qualifier_key(b.value))
        return -1
    if b is None:  # every item of the list against nothing, the first that differs
        return next((r for r in (_cmp(item, None) for item in a) if r), 0)
    if isinstance(b, _Num):
        return -1
    if isinstance(b, _Str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        if left is None:
            result = 0 if right is None else -_cmp(right, None)
        else:
            result = _cmp(left, right)
        if result:
            return result
    return 0


def _lex(a: tuple[int, str], b: tuple[int, str]) -> int:
    # Maven compares the strings "0".."6" and "7-name": known ones by index, unknown
    # ones after, by name.
    sa = str(a[0]) if a[0] < len(_QUALIFIERS) else f"{a[0]}-{a[1]}"
    sb = str(b[0]) if b[0] < len(_QUALIFIERS) else f"{b[0]}-{b[1]}"
    return (sa > sb) - (sa < sb)


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as Maven orders ``a`` and ``b`` (every string is a Maven version)."""
    return _cmp(parse(a), parse(b))


@total_ordering
class MavenVersion:
    """A Maven version that sorts as Maven does."""

    __slots__ = ("text", "_items")

    def __init__(self, text: str) -> None:
        self.text = text
        self._items = parse(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MavenVersion) and _cmp(self._items, other._items) == 0

    def __lt__(self, other: MavenVersion) -> bool:
        return _cmp(self._items, other._items) < 0

    def __hash__(self) -> int:
        return hash(repr(self._items))
