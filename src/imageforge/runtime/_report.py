"""The result of probing the machine: one :class:`CheckItem` per capability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckItem", "SystemReport"]


@dataclass(frozen=True)
class CheckItem:
    """One probed capability. ``ok`` says whether it works; ``summary`` is one line for a
    person; ``hint`` what to do when it does not work; ``data`` the facts for machines."""

    name: str
    ok: bool
    summary: str
    hint: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "summary": self.summary,
            "hint": self.hint,
            "data": self.data,
        }


@dataclass(frozen=True)
class SystemReport:
    """Everything ``imageforge system check`` found."""

    root: str
    items: Sequence[CheckItem]

    def item(self, name: str) -> CheckItem:
        for it in self.items:
            if it.name == name:
                return it
        raise KeyError(name)

    @property
    def runtime(self) -> str | None:
        """The runtime builds will use: the first of crun, runc that works."""
        for name in ("crun", "runc"):
            try:
                if self.item(f"runtime.{name}").ok:
                    return name
            except KeyError:
                continue
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "runtime": self.runtime,
            "items": [it.to_json() for it in self.items],
        }
