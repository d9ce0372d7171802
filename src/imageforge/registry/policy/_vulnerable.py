"""Harbor's "prevent vulnerable images from running", as a pull gate: while a project's
``prevent_vulnerable`` is on, a manifest is served only if its latest scan succeeded
and found nothing at or above the project's severity that is not on the project's or
the registry's CVE allowlist (an entry counts until it expires). An image not scanned
yet, or whose scan failed, is refused too. An index is checked through its images, and
each of them again when a client pulls it by digest. Artifacts (signatures,
attestations, SBOMs) are not images and pass."""

from __future__ import annotations

import time
from collections.abc import Callable

from imageforge.oci import Digest, IndexManifest, Manifest
from imageforge.registry.meta import (
    Finding,
    Policy,
    ScanResult,
    ScanStore,
    severity_rank,
)
from imageforge.registry.policy._gate import Decision, GateContext
from imageforge.registry.scanning import is_image

__all__ = ["VulnerabilityGate"]

_SHOWN = 5  # findings named in a refusal


class VulnerabilityGate:
    """Reads the policies, results and allowlists of ``scans``; ``manifest_of`` reads a
    stored manifest (None if it is not stored)."""

    def __init__(
        self,
        scans: ScanStore,
        manifest_of: Callable[[Digest], Manifest | IndexManifest | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.scans = scans
        self.manifest_of = manifest_of
        self.clock = clock

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        policy = ctx.shared("policy", lambda: self.scans.policy(ctx.project))
        if not policy.prevent_vulnerable:
            return Decision(True)
        pulled = ctx.parsed_manifest() or self.manifest_of(image)
        if isinstance(pulled, IndexManifest):
            children = [] if ctx.state is None else ctx.state.index_children(ctx.repository, image)
            images = [c for c in children if is_image(self.manifest_of(c))]
        else:
            images = [image] if is_image(pulled) else []
        now = self.clock()
        allowed = {
            e.cve
            for e in [*self.scans.allowlist(ctx.project), *self.scans.allowlist("")]
            if e.active(now)
        }
        for digest in images:
            decision = self._check_one(digest, policy, allowed, ctx)
            if not decision.allowed:
                return decision
        return Decision(True)

    def _check_one(
        self, digest: Digest, policy: Policy, allowed: set[str], ctx: GateContext
    ) -> Decision:
        name = f"prevent_vulnerable (severity {policy.severity}) of project {ctx.project}"
        result: ScanResult | None = self.scans.result(digest)
        if result is None:
            return _refuse(
                name,
                f"{digest} has not been scanned yet",
                "wait for the scan (registry scan show), or start one (registry scan start)",
            )
        if result.status != "success":
            return _refuse(
                name,
                f"the scan of {digest} failed: {result.message}",
                "start a new scan (registry scan start) once the cause is fixed",
            )
        threshold = severity_rank(policy.severity)
        bad = [
            f
            for f in result.findings
            if severity_rank(f.severity) >= threshold and not _allowed(f, allowed)
        ]
        if not bad:
            return Decision(True)
        bad.sort(key=lambda f: (-severity_rank(f.severity), f.id))
        shown = ", ".join(f"{f.id} ({f.severity}, {f.package} {f.version})" for f in bad[:_SHOWN])
        more = f" and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
        return _refuse(
            name,
            f"{digest} has {len(bad)} vulnerabilities at or above {policy.severity}: {shown}{more}",
            "fix the image, or allowlist the CVEs (registry allowlist add)",
        )


def _allowed(finding: Finding, allowed: set[str]) -> bool:
    return finding.id in allowed or any(a in allowed for a in finding.aliases)


def _refuse(policy: str, reason: str, hint: str) -> Decision:
    return Decision(False, reason, hint=hint, by=f"policy {policy}")
