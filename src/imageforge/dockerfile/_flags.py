"""Instruction flags (``--name[=value]``) checked the way BuildKit's ``BFlags`` does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["FlagError", "FlagSet"]


class FlagError(Exception):
    """A flag the instruction does not accept, or a bad flag value."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass
class FlagSet:
    """Declared flags of one instruction; :meth:`parse` fills in the values."""

    bools: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    lists: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)

    def _known(self) -> list[str]:
        return sorted(self.bools | self.strings | self.lists)

    def parse(self, args: Sequence[str]) -> FlagSet:
        for arg in args:
            if arg == "--":
                break
            if not arg.startswith("--"):
                raise FlagError(f"arg should start with -- : {arg}")
            flag_name, has_value, value = arg.partition("=")
            name = flag_name[2:]
            if name not in self.bools and name not in self.strings and name not in self.lists:
                from difflib import get_close_matches  # only for a mistake

                close = get_close_matches(name, self._known(), n=1)
                known = ", ".join("--" + k for k in self._known()) or "none"
                hint = (
                    f"did you mean --{close[0]}?" if close else f"this instruction takes: {known}"
                )
                raise FlagError(f"unknown flag: {flag_name}", hint)
            if name not in self.lists and (name in self.values):
                raise FlagError(f"duplicate flag specified: {flag_name}")
            if name in self.bools:
                if has_value and value == "":
                    raise FlagError(f"missing a value on flag: {flag_name}")
                lowered = value.lower()
                if lowered in ("true", ""):
                    self.values[name] = "true"
                elif lowered == "false":
                    self.values[name] = "false"
                else:
                    raise FlagError(f"expecting boolean value for flag {flag_name}, not: {value}")
            elif not has_value:
                raise FlagError(f"missing a value on flag: {flag_name}")
            elif name in self.strings:
                self.values[name] = value
            else:
                self.values[name] = value
                self.multi.setdefault(name, []).append(value)
        return self

    def string(self, name: str) -> str | None:
        return self.values.get(name)

    def boolean(self, name: str) -> bool | None:
        value = self.values.get(name)
        return None if value is None else value == "true"

    def strings_of(self, name: str) -> tuple[str, ...]:
        return tuple(self.multi.get(name, ()))
