from __future__ import annotations

from dataclasses import dataclass

from imageforge.oci import Digest, digest_bytes
from imageforge.registry.policy import AllOf, AnyOf, Decision, GateContext

IMG = digest_bytes(b"image")
CTX = GateContext("push", "library/x", "admin")


@dataclass
class Fixed:
    allowed: bool
    reason: str = ""

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        return Decision(self.allowed, self.reason)


def test_empty_allof_refuses() -> None:
    assert not AllOf([]).check(IMG, CTX).allowed


def test_allof_needs_every_gate_and_says_which_refused() -> None:
    assert AllOf([Fixed(True), Fixed(True)]).check(IMG, CTX).allowed
    d = AllOf([Fixed(True), Fixed(False, "unsigned")]).check(IMG, CTX)
    assert not d.allowed and d.reason == "unsigned"


def test_anyof_needs_one_gate() -> None:
    assert AnyOf([Fixed(False, "a"), Fixed(True)]).check(IMG, CTX).allowed
    d = AnyOf([Fixed(False, "a"), Fixed(False, "b")]).check(IMG, CTX)
    assert not d.allowed and d.reason == "a; b"
    assert not AnyOf([]).check(IMG, CTX).allowed
