"""``attest`` and ``verify-attestation``: in-toto statements about a registry image,
signed in DSSE envelopes and stored as cosign stores them (the ``.att`` tag, or OCI 1.1
referrers), and checked against a key and, optionally, a policy.

The statement's subject is the image by digest (resolved once, as ``sign`` does). An
attestation found for the image holds when its envelope verifies with the key, carries
an in-toto statement, and that statement names the image's digest; a policy
(``sign.AttestationPolicy``) then sets which predicate types must be among those that
hold and what their predicates must say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, Reference
from imageforge.pipeline._location import Location
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign import Signed, raise_unverified, target_of
from imageforge.pipeline._sign_store import (
    ATTESTATIONS,
    LEGACY,
    Attached,
    Target,
    attach,
    find_attached,
)
from imageforge.sign import (
    DSSE_MEDIA_TYPE,
    IN_TOTO_PAYLOAD_TYPE,
    AttestationPolicy,
    Envelope,
    Signer,
    Statement,
    Subject,
    VerificationFailed,
    Verifier,
    attestation_layer,
    docker_reference,
    predicate_type,
    sign_envelope,
    verify_envelope,
)

__all__ = [
    "VerifiedAttestation",
    "VerifiedAttestations",
    "attest_image",
    "load_policy",
    "load_predicate",
    "verify_attestations",
]

_MAX_FILE = 16 << 20


def _read(path: Path, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_FILE + 1)
    except FileNotFoundError:
        raise NotFound(f"{path}: no such {what} file") from None
    except OSError as exc:
        raise InvalidArgument(f"{path}: cannot read the {what}: {exc.strerror}") from None
    if len(data) > _MAX_FILE:
        raise InvalidArgument(f"{path}: the {what} is larger than {_MAX_FILE} bytes")
    return data


def load_predicate(path: Path) -> Any:
    """The predicate in the JSON file ``path`` (an object, as in-toto requires)."""
    try:
        value = json.loads(_read(path, "predicate"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(
            f"{path}: the predicate is not JSON ({exc})",
            hint="give the predicate document itself (an SBOM, a provenance, a scan report)",
        ) from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"{path}: the predicate is not a JSON object")
    return value


def load_policy(path: Path) -> AttestationPolicy:
    """The attestation policy in the TOML file ``path``."""
    data = _read(path, "policy")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path}: the policy is not UTF-8 text") from None
    return AttestationPolicy.parse(text, what=str(path))


def attest_image(
    session: Session,
    reference: Location | str,
    signer: Signer,
    predicate: Any,
    kind: str,
    *,
    mode: str = LEGACY,
) -> Signed:
    """Attest ``predicate`` of type ``kind`` (a short name such as ``slsaprovenance1``,
    ``spdx``, ``cyclonedx``, ``vuln``, or a URI) about the image ``[docker://]REF``
    names, as ``cosign attest --key`` does."""
    ptype = predicate_type(kind)
    target = target_of(session, reference)
    named = target.reference or target.pinned
    subject = Subject.for_image(docker_reference(named), target.digest)
    statement = Statement((subject,), ptype, predicate)
    envelope = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, statement.to_bytes())
    stored = attach(target, attestation_layer(envelope, ptype), ATTESTATIONS, mode)
    return Signed(target.pinned, stored)


@dataclass(frozen=True)
class VerifiedAttestation:
    layout: str
    manifest: Digest
    statement: Statement

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "attestationManifest": str(self.manifest),
            "predicateType": self.statement.predicate_type,
            "statement": self.statement.to_json(),
        }


@dataclass(frozen=True)
class VerifiedAttestations:
    image: Reference
    attestations: tuple[VerifiedAttestation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "image": str(self.image),
            "digest": str(self.image.digest),
            "verified": True,
            "attestations": [a.to_json() for a in self.attestations],
        }


def _check(attached: Attached, target: Target, verifier: Verifier) -> VerifiedAttestation:
    layer = attached.layer
    where = f"attestation in {attached.manifest}"
    if layer.media_type != DSSE_MEDIA_TYPE:
        raise VerificationFailed(
            f"{where}: a {layer.media_type} layer where a DSSE envelope was expected",
            reason="wrong-payload-type",
        )
    envelope = Envelope.parse(layer.payload, what=f"{where}: DSSE envelope")
    payload = verify_envelope(verifier, envelope, payload_type=IN_TOTO_PAYLOAD_TYPE)
    statement = Statement.parse(payload, what=f"{where}: in-toto statement")
    statement.check_subject(target.digest)
    return VerifiedAttestation(attached.layout, attached.manifest, statement)


def verify_attestations(
    session: Session,
    reference: Location | str,
    verifier: Verifier,
    *,
    kinds: Sequence[str] = (),
    policy: AttestationPolicy | None = None,
) -> VerifiedAttestations:
    """Check the attestations of the image ``[docker://]REF`` names, as ``cosign
    verify-attestation --key`` does: those of each type in ``kinds`` (short names or
    URIs) and in ``policy`` must include one that holds, and ``policy``'s conditions
    must be met. Returns the attestations of those types that hold."""
    wanted = {predicate_type(k) for k in kinds}
    if policy is not None:
        wanted.update(policy.predicate_types)
    if not wanted:
        raise InvalidArgument("name a predicate type (--type) or give a --policy")
    target = target_of(session, reference)
    found = find_attached(target, ATTESTATIONS)
    good: list[VerifiedAttestation] = []
    failures: list[VerificationFailed] = []
    for attached in found.attached:
        try:
            checked = _check(attached, target, verifier)
        except VerificationFailed as exc:
            failures.append(exc)
            continue
        if checked.statement.predicate_type in wanted:
            good.append(checked)
    for ptype in sorted(wanted):
        if not any(a.statement.predicate_type == ptype for a in good):
            raise_unverified(target, found, failures, f"{ptype} attestation")
    if policy is not None:
        try:
            policy.check([a.statement for a in good])
        except VerificationFailed as exc:
            raise VerificationFailed(
                f"{target.pinned}: {exc.message}", reason=exc.reason, hint=exc.hint
            ) from None
    return VerifiedAttestations(target.pinned, tuple(good))
