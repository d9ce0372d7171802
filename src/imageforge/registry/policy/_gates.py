"""The gates a registry checks, each registered for the actions it decides on.

A gate is *transactional* when its decision rests on metadata a concurrent request
could change between the check and the change (whether a tag names another manifest,
which tags an index holds): it is checked inside the change's write transaction,
reading through that transaction (``ctx.state``), so two racing requests cannot both
pass it. Such a gate must be quick and read only ``ctx.state`` (the write lock is held
while it runs). Every other gate (a scan, a signature check) is checked once, before
the change, outside any transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from imageforge.errors import InvalidArgument
from imageforge.oci import Digest
from imageforge.registry.policy._gate import ACTIONS, Gate, GateContext, RegistryView

__all__ = ["Gates"]


@dataclass(frozen=True)
class _Entry:
    gate: Gate
    actions: frozenset[str]
    transactional: bool


class Gates:
    """The registry's gates, in the order registered; a refusal is raised as the
    shared error of the decision's kind."""

    def __init__(self) -> None:
        self._entries: list[_Entry] = []

    def register(self, gate: Gate, *, on: Iterable[str], transactional: bool = False) -> None:
        """Check ``gate`` on the actions ``on`` (push, pull, delete)."""
        actions = frozenset(on)
        if not actions or not actions <= set(ACTIONS):
            raise InvalidArgument(
                f"a gate is registered on {sorted(actions)}, not a non-empty subset of"
                f" {', '.join(ACTIONS)}"
            )
        self._entries.append(_Entry(gate, actions, transactional))

    def __len__(self) -> int:
        return len(self._entries)

    def wants(self, action: str) -> bool:
        """Whether any gate decides on ``action`` (so its context is worth making)."""
        return any(action in e.actions for e in self._entries)

    def _check(self, image: Digest, ctx: GateContext, transactional: bool) -> None:
        for entry in self._entries:
            if ctx.action in entry.actions and entry.transactional == transactional:
                decision = entry.gate.check(image, ctx)
                if not decision.allowed:
                    raise decision.error(ctx)

    def check(self, image: Digest, ctx: GateContext) -> None:
        """Check the gates that decide before the change (all of them for an action
        that changes nothing, such as a pull); raise the first refusal."""
        self._check(image, ctx, False)
        if ctx.action == "pull":
            self._check(image, ctx, True)

    def check_in(self, view: RegistryView, image: Digest, ctx: GateContext) -> None:
        """Check the transactional gates inside a change's transaction, through its
        ``view``; raise the first refusal (which rolls the change back)."""
        self._check(image, replace(ctx, state=view), True)
