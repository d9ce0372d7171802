"""Go text conventions the BuildKit formats depend on: ``strconv.Quote`` and ``unicode.IsSpace``."""

from __future__ import annotations

__all__ = ["GO_SPACE", "go_quote", "go_quote_list", "is_go_space"]

# unicode.IsSpace: the Latin-1 spaces plus the White_Space property above Latin-1.
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACES = frozenset(GO_SPACE)

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def is_go_space(ch: str) -> bool:
    return ch in _SPACES


def go_quote(text: str) -> str:
    """``strconv.Quote``: printable runes as they are, the rest escaped Go-style.

    Bytes that were not valid UTF-8 arrive as lone surrogates (``surrogateescape``)
    and come out as ``\\xHH`` like Go prints them."""
    out = ['"']
    for ch in text:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str] | tuple[str, ...]) -> str:
    """``fmt.Sprintf("%q", []string{...})``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(i) for i in items) + "]"
