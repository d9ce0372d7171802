"""Gates checked on push and pull: the ``Gate`` protocol (``check(image, ctx) ->
Decision``) and the ``AllOf``/``AnyOf`` combinators. Gates are injected from outside the
registry package (vuln, sign, ...); none by default."""

from imageforge.registry.policy._gate import AllOf, AnyOf, Decision, Gate, GateContext

__all__ = ["AllOf", "AnyOf", "Decision", "Gate", "GateContext"]
