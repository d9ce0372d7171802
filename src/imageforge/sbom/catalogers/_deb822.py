"""Debian control-file paragraphs (deb822): ``Field: value`` lines, continuation lines
starting with a space or tab, paragraphs separated by blank lines.

Hand-written: the format is a dozen lines of parsing, and the catalogers need each
paragraph's line number and a lenient parse that keeps every good paragraph of a
damaged file, which python-debian's iterators do not report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Paragraph", "paragraphs"]


@dataclass
class Paragraph:
    """One paragraph: its fields (names as written) and the line it starts on (from 1)."""

    line: int
    fields: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


def paragraphs(text: str) -> Iterator[Paragraph]:
    """The paragraphs of ``text``; lines that are neither fields nor continuations are
    skipped (a truncated last line comes out as a field cut short, which the caller
    notices by a missing field)."""
    current: Paragraph | None = None
    last: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            if current is not None and current.fields:
                yield current
            current, last = None, None
            continue
        if current is None:
            current = Paragraph(number, {})
        if line[0] in " \t":
            if last is not None:
                current.fields[last] += "\n" + line[1:]
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            continue
        last = name.strip()
        current.fields[last] = value.strip()
    if current is not None and current.fields:
        yield current
