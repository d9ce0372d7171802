"""Shell wildcard patterns of ``${VAR#...}``, ``${VAR%...}`` and ``${VAR/.../...}``,
matched in time linear in the pattern times the value.

BuildKit turns such a pattern into a Go regular expression (``*`` -> ``.*`` or
``.*?``, ``?`` -> ``.``), which Go's engine runs in linear time. Python's ``re`` would
backtrack instead: ``${A#*a*a*a*a*b}`` over 200 ``a`` took 80 seconds. This module
gives the same answers as that regular expression (leftmost match; greedy or lazy
stars in priority order; ``*`` and ``?`` do not match a newline, as ``.`` does not)
by walking the pattern as a backtracking engine would, but remembering every
(pattern position, value position) that already failed, so each is tried once.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PatternError", "WildcardPattern"]

_ANY: Final = 1
_STAR: Final = 2
_LITERAL: Final = 0


class PatternError(ValueError):
    """The pattern has an escape that BuildKit refuses."""


class WildcardPattern:
    """A compiled pattern: ``*`` any run of characters, ``?`` any one character,
    ``\\`` escaping ``*``, ``?`` or ``\\`` (``\\}`` and ``\\/`` stand for ``}`` and
    ``/``, the characters that end the pattern inside ``${...}``)."""

    __slots__ = ("greedy", "kinds", "chars")

    def __init__(self, pattern: str, *, greedy: bool) -> None:
        self.greedy = greedy
        kinds: list[int] = []
        chars: list[str] = []
        i, n = 0, len(pattern)
        while i < n:
            tok = pattern[i]
            i += 1
            if tok == "*":
                if kinds and kinds[-1] == _STAR:
                    continue  # `**` matches what `*` does, in the same priority order
                kinds.append(_STAR)
                chars.append("")
            elif tok == "?":
                kinds.append(_ANY)
                chars.append("")
            elif tok == "\\":
                if i < n and pattern[i] in "}/":
                    continue  # an escaped } or / of ${...}: the character follows
                nxt = pattern[i] if i < n else ""
                i += 1
                if nxt not in ("*", "?", "\\"):
                    shown = nxt if nxt else "\ufffd"
                    raise PatternError(
                        f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'"
                    )
                kinds.append(_LITERAL)
                chars.append(nxt)
            else:
                kinds.append(_LITERAL)
                chars.append(tok)
        self.kinds = tuple(kinds)
        self.chars = tuple(chars)

    def match(
        self, value: str, start: int, failed: set[int], *, non_empty: bool = False
    ) -> int | None:
        """The end of the first match (in the regular expression's priority order) that
        starts at ``start``, or None. ``failed`` holds the states known to fail; it may
        be shared between calls on the same value (a state's fate does not depend on
        where the match started) unless ``non_empty`` (a match must not end at
        ``start``) is given."""
        kinds, chars, greedy = self.kinds, self.chars, self.greedy
        m = len(kinds)
        n = len(value)
        width = m + 1
        stack = [start * width]
        while stack:
            state = stack.pop()
            if state in failed:
                continue
            # Every state popped before the first success fails: the state graph has
            # no cycles (each step moves forward in the value or in the pattern).
            failed.add(state)
            vi, ti = divmod(state, width)
            if ti == m:
                if non_empty and vi == start:
                    continue
                failed.discard(state)
                return vi
            kind = kinds[ti]
            if kind == _STAR:
                more = vi < n and value[vi] != "\n"
                if greedy:  # pushed in reverse priority: the first to try goes last
                    stack.append(state + 1)
                    if more:
                        stack.append(state + width)
                else:
                    if more:
                        stack.append(state + width)
                    stack.append(state + 1)
            elif vi < n and (value[vi] == chars[ti] if kind == _LITERAL else value[vi] != "\n"):
                stack.append(state + width + 1)
        return None

    def search(self, value: str, pos: int = 0, *, advance: bool = False) -> tuple[int, int] | None:
        """The leftmost match at or after ``pos`` as (start, end), as ``re.search``
        finds it; ``advance``: a match at ``pos`` itself must not be empty (how
        ``re.sub`` continues after an empty match)."""
        failed: set[int] = set()
        for start in range(pos, len(value) + 1):
            if advance and start == pos:
                end = self.match(value, start, set(), non_empty=True)
            else:
                end = self.match(value, start, failed)
            if end is not None:
                return start, end
        return None

    def sub(self, replacement: str, value: str, *, count: int = 0) -> str:
        """``value`` with matches replaced as ``re.sub`` replaces them (``count`` 0: all)."""
        out: list[str] = []
        pos = 0
        done = 0
        advance = False
        while count == 0 or done < count:
            found = self.search(value, pos, advance=advance)
            if found is None:
                break
            start, end = found
            out.append(value[pos:start])
            out.append(replacement)
            done += 1
            advance = start == end
            pos = end
        out.append(value[pos:])
        return "".join(out)
