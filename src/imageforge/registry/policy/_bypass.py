"""An admin's bypass of the project policies: a system admin's pull that carries the
``X-Imageforge-Policy-Bypass: <reason>`` header passes a policy that refuses it, and
the audit log keeps who bypassed what, which policy refused and the reason given.
Anyone else's header changes nothing."""

from __future__ import annotations

from collections.abc import Callable

from imageforge.oci import Digest
from imageforge.registry.policy._gate import Decision, Gate, GateContext

__all__ = ["BYPASS_HEADER", "AdminBypass"]

BYPASS_HEADER = "x-imageforge-policy-bypass"

# (user, action, repository, reference, result, detail)
Audit = Callable[[str | None, str, str, str, str, str], None]


class AdminBypass:
    """``gate``, unless a system admin (``is_admin``) bypasses it; ``audit`` records
    every bypass."""

    def __init__(self, gate: Gate, is_admin: Callable[[str | None], bool], audit: Audit) -> None:
        self.gate = gate
        self.is_admin = is_admin
        self.audit = audit

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        decision = self.gate.check(image, ctx)
        if decision.allowed or not ctx.bypass or not self.is_admin(ctx.user):
            return decision
        reason = ctx.bypass.strip()[:200] or "no reason given"
        refused = decision.error(ctx).message
        self.audit(
            ctx.user,
            ctx.action,
            ctx.repository,
            ctx.reference or str(image),
            "bypass",
            f"{refused} (bypassed: {reason})"[:500],
        )
        return Decision(True)
