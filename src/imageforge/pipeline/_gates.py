"""The gates of a lifecycle environment (``[environments.NAME]`` of the policy file),
evaluated against an image in a registry or the store by digest.

Each gate gives a :class:`GateOutcome` (passed or not, and why) rather than raising: a
promotion reports every gate that failed, not only the first. The content gates
(vulnerabilities, size, efficiency, non-root) are checked on every image of an index;
signatures and attestations on what was signed, the reference promoted (an index is
signed as a whole, as ``build --sign`` does)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Image, ImageIndex, Reference, walk_image_graph
from imageforge.pipeline._location import Location, location_text
from imageforge.pipeline._session import Session
from imageforge.policy import EnvironmentPolicy
from imageforge.sign import VerificationFailed

__all__ = [
    "SBOM_TYPES",
    "GateOutcome",
    "VulnGate",
    "attestation_gates",
    "content_gates",
    "evaluate_gates",
    "failed",
    "images_of",
    "signature_gates",
]

SBOM_TYPES = ("spdx", "cyclonedx")
GATE_PART = "vulnerability-gate"  # the scan cache's part kind for a gate's result
_ROOT_USERS = frozenset({"", "0", "root"})


@dataclass(frozen=True)
class GateOutcome:
    """One gate of one image: ``gate`` (``signature``, ``attestation:TYPE``,
    ``trusted-builder``, ``sbom``, ``vulnerabilities``, ``max-size``,
    ``lowest-efficiency``, ``non-root``), ``image`` (the digest it was checked on),
    ``passed`` and ``detail`` (what was found); for ``vulnerabilities``, ``reused``
    says whether a stored result of the same database was used instead of a scan."""

    gate: str
    image: str
    passed: bool
    detail: str
    reused: bool | None = None  # vulnerabilities: a stored scan's result, or a new scan

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "gate": self.gate,
            "image": self.image,
            "passed": self.passed,
            "detail": self.detail,
        }
        if self.reused is not None:
            out["reused"] = self.reused
        return out


@dataclass(frozen=True)
class VulnGate:
    """What the vulnerability gate is scanned with: an open database and its status
    (``imageforge.vuln.VulnDB``/``DbStatus``; None when the environment sets no
    vulnerability threshold). With ``cache`` (an ``imageforge.scan.ScanCache``) a gate's
    result is kept per image, database version and gate settings, and used again while
    the database is the same one, unless ``rescan``."""

    db: Any
    status: Any = None
    cache: Any = None
    rescan: bool = False


def _is_root(user: str) -> bool:
    name = user.split(":", 1)[0].strip()
    return name in _ROOT_USERS


def signature_gates(
    session: Session, target: Location, env: EnvironmentPolicy
) -> list[GateOutcome]:
    from imageforge.pipeline._sign import key_verifier, verify_image

    out: list[GateOutcome] = []
    where = location_text(target)
    for key in env.signatures:
        try:
            verified = verify_image(session, target, key_verifier(key))
            out.append(
                GateOutcome(
                    "signature",
                    where,
                    True,
                    f"{len(verified.signatures)} signature(s) verify with {key}",
                )
            )
        except (VerificationFailed, NotFound) as exc:
            out.append(GateOutcome("signature", where, False, f"{key}: {exc.message}"))
    return out


def _attested(
    session: Session, target: Location, env: EnvironmentPolicy, kind: str
) -> tuple[list[Any], str]:
    """The verified statements of ``kind`` (by any of the environment's keys), or why none."""
    from imageforge.pipeline._sign import key_verifier
    from imageforge.pipeline._sign_attest import verify_attestations

    reasons: list[str] = []
    for key in env.signatures:
        try:
            found = verify_attestations(session, target, key_verifier(key), kinds=[kind])
            return [a.statement for a in found.attestations], ""
        except (VerificationFailed, NotFound) as exc:
            reasons.append(exc.message)
    return [], "; ".join(reasons) or "no key to verify with"


def attestation_gates(
    session: Session, target: Location, env: EnvironmentPolicy
) -> list[GateOutcome]:
    where = location_text(target)
    out: list[GateOutcome] = []
    kinds = list(env.attestations)
    if env.trusted_builder and not any("provenance" in k for k in kinds):
        kinds.append("slsaprovenance1")
    for kind in kinds:
        statements, why = _attested(session, target, env, kind)
        out.append(
            GateOutcome(
                f"attestation:{kind}",
                where,
                bool(statements),
                f"{len(statements)} verified" if statements else why,
            )
        )
        if env.trusted_builder and "provenance" in kind:
            builders = sorted({_builder_id(s.predicate) for s in statements} - {""})
            ok = env.trusted_builder in builders
            detail = f"built by {', '.join(builders) or 'no builder named'}"
            out.append(
                GateOutcome(
                    "trusted-builder",
                    where,
                    ok,
                    detail + ("" if ok else f", not {env.trusted_builder}"),
                )
            )
    if env.sbom:
        reasons = []
        for kind in SBOM_TYPES:
            statements, why = _attested(session, target, env, kind)
            if statements:
                out.append(GateOutcome("sbom", where, True, f"{kind} SBOM attested"))
                break
            reasons.append(why)
        else:
            out.append(
                GateOutcome(
                    "sbom", where, False, "no SBOM attestation verifies: " + "; ".join(reasons)
                )
            )
    return out


def _builder_id(predicate: Any) -> str:
    if not isinstance(predicate, dict):
        return ""
    run = predicate.get("runDetails")  # SLSA v1
    if isinstance(run, dict) and isinstance(run.get("builder"), dict):
        return str(run["builder"].get("id", ""))
    builder = predicate.get("builder")  # SLSA v0.2
    return str(builder.get("id", "")) if isinstance(builder, dict) else ""


def content_gates(
    session: Session, location: str, image: Image, env: EnvironmentPolicy, vulns: VulnGate | None
) -> list[GateOutcome]:
    out: list[GateOutcome] = []
    digest = str(image.digest)
    if env.max_size is not None:
        from imageforge.analyze import format_size, parse_size

        limit = parse_size(env.max_size, what=f"[environments.{env.name}] max-size")
        size = sum(layer.size for layer in image.manifest().layers)
        out.append(
            GateOutcome(
                "max-size",
                digest,
                size <= limit,
                f"{format_size(size)} (limit {format_size(limit)})",
            )
        )
    if env.non_root:
        user = str(image.config().config.get("User") or "")
        out.append(
            GateOutcome(
                "non-root", digest, not _is_root(user), f"runs as {user or 'root (no USER)'}"
            )
        )
    if env.lowest_efficiency is not None:
        from imageforge.analyze import analyze

        efficiency = analyze(image, progress=session.progress).dive.efficiency
        out.append(
            GateOutcome(
                "lowest-efficiency",
                digest,
                efficiency >= env.lowest_efficiency,
                f"{efficiency:.1%} (at least {env.lowest_efficiency:.1%})",
            )
        )
    if env.severity or env.min_cvss is not None:
        out.append(_vulnerabilities(session, location, env, vulns))
    return out


def _gate_key(env: EnvironmentPolicy, version: str) -> str:
    settings = {
        "database": version,
        "severity": sorted(env.severity),
        "min-cvss": env.min_cvss,
        "ignore-unfixed": env.ignore_unfixed,
        "allowlist": sorted(env.allowlist),
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()


def _vulnerabilities(
    session: Session, location: str, env: EnvironmentPolicy, vulns: VulnGate | None
) -> GateOutcome:
    from imageforge.pipeline._registry_scanner import database_version
    from imageforge.pipeline._scan import scan
    from imageforge.scan import Gate, ScanOptions
    from imageforge.vuln import IgnoreRule

    if vulns is None or vulns.db is None:
        raise InvalidArgument(
            f"[environments.{env.name}] has a vulnerability gate and no database was given",
            hint="run imageforge vulndb update (or leave out --offline)",
        )
    digest = location.rsplit("@", 1)[-1]
    version = database_version(vulns.status) if vulns.status is not None else ""
    key = _gate_key(env, version)
    cache = vulns.cache if version and version != "none" else None
    stored = cache.get_part(digest, GATE_PART, key) if cache is not None else None
    if stored is not None and not vulns.rescan:
        try:
            return GateOutcome(
                "vulnerabilities",
                digest,
                bool(stored["passed"]),
                f"{stored['detail']}; stored result of this database reused",
                reused=True,
            )
        except KeyError:
            pass  # written otherwise: scanned again
    origin = f"[environments.{env.name}] allowlist"
    options = ScanOptions(
        gate=Gate(
            severities=frozenset(env.severity) if env.severity else None,
            min_cvss=env.min_cvss,
            ignore_unfixed=env.ignore_unfixed,
        ),
        rules=tuple(IgnoreRule(id=v, origin=origin) for v in env.allowlist),
    )
    report = scan(session, location, vulns.db, options, database=vulns.status, cache=cache)
    failing = report.failing()
    ids = sorted({f.id for f in report.vulnerabilities.findings})
    wanted = ", ".join(env.severity) or f"CVSS >= {env.min_cvss}"
    detail = (
        f"{failing} finding(s) of {wanted}: {', '.join(ids[:5])}"
        if failing
        else f"no finding of {wanted}"
    )
    if cache is not None:
        cache.put_part(digest, GATE_PART, key, {"passed": not failing, "detail": detail})
    return GateOutcome("vulnerabilities", digest, not failing, f"{detail}; scanned", reused=False)


def images_of(obj: Image | ImageIndex) -> list[Image]:
    """``obj`` if an image, else every image below the index (children first)."""
    return [o for o in walk_image_graph(obj) if isinstance(o, Image)]


def evaluate_gates(
    session: Session,
    reference: Reference,
    env: EnvironmentPolicy,
    *,
    vulns: VulnGate | None = None,
) -> list[GateOutcome]:
    """Every gate ``env`` sets, on the registry image ``reference`` (by digest: the
    caller resolved it) and, for an index, on each of its images."""
    if reference.digest is None:
        raise InvalidArgument(f"{reference}: gates are checked on an image by digest")
    outcomes: list[GateOutcome] = []
    outcomes += signature_gates(session, reference, env)
    outcomes += attestation_gates(session, reference, env)
    with session.opened(reference) as obj:
        for image in images_of(obj):
            child = f"docker://{reference.name}@{image.digest}"
            outcomes += content_gates(session, child, image, env, vulns)
    return outcomes


def failed(outcomes: Sequence[GateOutcome]) -> list[GateOutcome]:
    return [o for o in outcomes if not o.passed]
