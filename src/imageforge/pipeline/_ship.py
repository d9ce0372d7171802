"""``ship``: a build context taken through every stage into the first lifecycle
environment -- lint, build, analyze, SBOM, scan, sign, attest, push -- stopping at the
first stage whose gate fails, with one report of every stage.

Composed of what exists: ``lint_paths``, :func:`~imageforge.pipeline.signed_build`
(build, then provenance, SBOM and signature kept in the store beside the name), the
environment's gates of ``_gates`` on the stored image, and :func:`copy` (which carries
the signature and attestations to the registry). Nothing leaves this machine before
every gate passed: the push is the last stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from imageforge.errors import ImageforgeError, InvalidArgument
from imageforge.oci import Reference
from imageforge.pipeline._gates import (
    GateOutcome,
    VulnGate,
    attestation_gates,
    content_gates,
    images_of,
    signature_gates,
)
from imageforge.pipeline._location import remote_ref, store_name
from imageforge.pipeline._session import Session
from imageforge.policy import EnvironmentPolicy, Policy
from imageforge.sign import Signer
from imageforge.transports import TransportRef

__all__ = ["STAGES", "STAGE_EXIT_CODES", "ShipReport", "Stage", "ship"]

STAGES = ("lint", "build", "analyze", "sbom", "scan", "sign", "attest", "push")
STAGE_EXIT_CODES = {name: 20 + n for n, name in enumerate(STAGES)}
"""The exit code of ``ship`` when a stage fails: lint 20, build 21, analyze 22, sbom 23,
scan 24, sign 25, attest 26, push 27."""


@dataclass
class Stage:
    """One stage: ``status`` ``passed``, ``failed`` or ``skipped`` (and why), its gates,
    and what it found (JSON)."""

    name: str
    status: str = "skipped"
    detail: str = ""
    gates: list[GateOutcome] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.name,
            "status": self.status,
            "detail": self.detail,
            "gates": [g.to_json() for g in self.gates],
            "findings": self.findings,
        }


@dataclass
class ShipReport:
    """Every stage of one ``ship``; ``failed`` is the stage that stopped it (None:
    shipped to ``destination``)."""

    image: str
    environment: str
    stages: list[Stage]
    destination: str | None = None
    digest: str | None = None

    @property
    def failed(self) -> Stage | None:
        return next((s for s in self.stages if s.status == "failed"), None)

    @property
    def exit_code(self) -> int:
        failed = self.failed
        return STAGE_EXIT_CODES[failed.name] if failed else 0

    def to_json(self) -> dict[str, Any]:
        failed = self.failed
        return {
            "image": self.image,
            "environment": self.environment,
            "shipped": failed is None,
            "failedStage": failed.name if failed else None,
            "destination": self.destination,
            "digest": self.digest,
            "exitCode": self.exit_code,
            "stages": [s.to_json() for s in self.stages],
        }


def _first(policy: Policy, name: str | None) -> EnvironmentPolicy:
    if name is not None:
        return policy.environment(name)
    if not policy.environments:
        raise InvalidArgument(
            "the policy file has no [environments] to ship into",
            hint="add [environments.dev] with a registry (see README, From dev to prod)",
        )
    return policy.environments[0]


def _gated(stage: Stage, outcomes: list[GateOutcome]) -> bool:
    stage.gates = outcomes
    bad = [o for o in outcomes if not o.passed]
    stage.status = "failed" if bad else "passed"
    stage.detail = "; ".join(f"{o.gate}: {o.detail}" for o in (bad or outcomes)) or "no gate set"
    return not bad


def _lint(
    stage: Stage, policy: Policy, env: EnvironmentPolicy, dockerfile: Path, context: Path
) -> bool:
    from imageforge.lint import lint_paths, make_report
    from imageforge.report import parse_threshold

    found = [
        f for _, fs in lint_paths([dockerfile], context_dir=context, policy=policy.lint) for f in fs
    ]
    report = make_report(found, [str(dockerfile)], policy.lint)
    threshold = parse_threshold(env.lint_threshold or policy.lint.failure_threshold or "error")
    stage.findings = [f.to_json() for f in found]
    failing = report.fails(threshold)
    stage.status = "failed" if failing else "passed"
    at = threshold.name.lower() if threshold is not None else "none"
    stage.detail = f"{len(found)} finding(s); failing at {at}"
    return not failing


def ship(
    session: Session,
    policy: Policy,
    context: Path,
    name: str,
    *,
    environment: str | None = None,
    dockerfile: Path | None = None,
    signer: Signer | None = None,
    vulns: VulnGate | None = None,
) -> ShipReport:
    """Ship ``context`` as ``name`` (``app:1.0``) into ``environment`` (default: the
    policy's first), stage by stage; a stage that fails (its gate, or an error) stops
    the rest, which are reported as skipped. With ``signer`` the image gets a signature
    and SBOM and provenance attestations; without it those stages are skipped."""
    from imageforge.builder import BuildOptions
    from imageforge.pipeline._copy import copy
    from imageforge.pipeline._sign_build import Attest, signed_build

    env = _first(policy, environment)
    full = env.repository(name)
    local = store_name(Reference.parse(full))
    dockerfile = dockerfile or context / "Dockerfile"
    stages = {s: Stage(s) for s in STAGES}
    report = ShipReport(full, env.name, list(stages.values()))
    where = TransportRef("store", local)
    built_attached: list[str] = []

    def build() -> bool:
        attest = Attest(signer, provenance=True, sbom=True, sign=True) if signer else None
        done = signed_build(
            session, BuildOptions(context=context, dockerfile=dockerfile), attest, tags=[local]
        )
        built_attached.extend(what for what, _ in done.attached)
        stages["build"].status = "passed"
        stages["build"].detail = f"{local} {done.built.digest}"
        report.digest = str(done.built.digest)
        return True

    def analyze() -> bool:
        return _gated(stages["analyze"], _each(replace(env, severity=(), min_cvss=None)))

    def _each(gates_env: EnvironmentPolicy) -> list[GateOutcome]:
        outcomes: list[GateOutcome] = []
        with session.opened(where) as obj:
            for image in images_of(obj):
                outcomes += content_gates(
                    session,
                    local if image.digest == obj.digest else f"{local}@{image.digest}",
                    image,
                    gates_env,
                    vulns,
                )
        return outcomes

    def sbom() -> bool:
        if "sbom" not in built_attached:
            stages["sbom"].detail = "no --key: no SBOM attested"
            return True
        stages["sbom"].status = "passed"
        stages["sbom"].detail = "SPDX SBOM attested in the store"
        return True

    def scan() -> bool:
        content = replace(env, max_size=None, lowest_efficiency=None, non_root=False)
        if not (env.severity or env.min_cvss is not None):
            stages["scan"].detail = f"[environments.{env.name}] sets no vulnerability gate"
            return True
        return _gated(stages["scan"], _each(content))

    def sign() -> bool:
        if "signature" not in built_attached:
            stages["sign"].detail = "no --key"
            return not env.signatures or _gated(
                stages["sign"], signature_gates(session, where, env)
            )
        return _gated(
            stages["sign"],
            signature_gates(session, where, env)
            or [GateOutcome("signature", local, True, "signed")],
        )

    def attest() -> bool:
        outcomes = attestation_gates(session, where, env)
        if not outcomes and "provenance" not in built_attached:
            stages["attest"].detail = "no --key"
            return True
        return _gated(
            stages["attest"], outcomes or [GateOutcome("provenance", local, True, "attested")]
        )

    def push() -> bool:
        written = copy(session, where, remote_ref(full), all_platforms=True)
        report.destination = str(remote_ref(full).with_digest(written))
        stages["push"].status = "passed"
        stages["push"].detail = report.destination
        return True

    def lint() -> bool:
        return _lint(stages["lint"], policy, env, dockerfile, context)

    steps: dict[str, Callable[[], bool]] = {
        "lint": lint,
        "build": build,
        "analyze": analyze,
        "sbom": sbom,
        "scan": scan,
        "sign": sign,
        "attest": attest,
        "push": push,
    }
    for stage_name in STAGES:
        try:
            if not steps[stage_name]():
                break
        except ImageforgeError as exc:
            stages[stage_name].status = "failed"
            stages[stage_name].detail = str(exc)
            break
    return report
