"""DSSE (Dead Simple Signing Envelope) v1: the pre-authentication encoding a signature is
made over, and the envelope JSON cosign stores attestations in.

``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`` (lengths in ASCII
decimal, of the UTF-8 bytes), so a signature covers the payload type as well as the body.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from imageforge.sign._errors import VerificationFailed, json_object
from imageforge.sign._signer import Signature, Signer, Verifier

__all__ = ["Envelope", "EnvelopeSignature", "pae", "sign_envelope", "verify_envelope"]


def pae(payload_type: str, payload: bytes) -> bytes:
    """The bytes DSSE signs: the pre-authentication encoding of type and payload."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class EnvelopeSignature:
    sig: bytes
    keyid: str = ""


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                for s in self.signatures
            ],
        }

    def to_bytes(self) -> bytes:
        """The envelope as cosign writes it (field order payloadType, payload,
        signatures; no spaces)."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def parse(cls, raw: bytes, *, what: str = "DSSE envelope") -> Envelope:
        """Read an envelope; anything else is a :class:`VerificationFailed`
        (``malformed``) naming the field."""

        def bad(detail: str) -> VerificationFailed:
            return VerificationFailed(f"{what}: {detail}", reason="malformed")

        data = json_object(raw, what)
        payload_type, payload, signatures = (
            data.get("payloadType"),
            data.get("payload"),
            data.get("signatures"),
        )
        if not isinstance(payload_type, str) or not payload_type:
            raise bad("payloadType missing")
        if not isinstance(payload, str):
            raise bad("payload missing")
        if not isinstance(signatures, list) or not signatures:
            raise bad("no signatures")
        sigs = []
        for i, entry in enumerate(signatures):
            if not isinstance(entry, dict) or not isinstance(entry.get("sig"), str):
                raise bad(f"signatures[{i}].sig missing")
            keyid = entry.get("keyid") or ""
            if not isinstance(keyid, str):
                raise bad(f"signatures[{i}].keyid is not a string")
            sigs.append(EnvelopeSignature(_unb64(entry["sig"], f"signatures[{i}].sig", bad), keyid))
        return cls(payload_type, _unb64(payload, "payload", bad), tuple(sigs))


def _unb64(value: str, field: str, bad: Any) -> bytes:
    # DSSE allows standard or URL-safe base64, with or without padding.
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad(f"{field} is not valid base64") from None


def sign_envelope(
    signer: Signer, payload_type: str, payload: bytes, *, keyid: str = ""
) -> Envelope:
    """An envelope holding ``payload`` signed (over its PAE) by ``signer``."""
    signature = signer.sign(pae(payload_type, payload))
    return Envelope(payload_type, payload, (EnvelopeSignature(signature.signature, keyid),))


def verify_envelope(verifier: Verifier, envelope: Envelope, *, payload_type: str) -> bytes:
    """The payload, once one of the envelope's signatures verifies with ``verifier`` and
    its type is ``payload_type``; else :class:`VerificationFailed`."""
    if envelope.payload_type != payload_type:
        raise VerificationFailed(
            f"the envelope's payloadType is {envelope.payload_type!r}, expected {payload_type!r}",
            reason="wrong-payload-type",
            hint="this is not the kind of document that was asked for",
        )
    signed = pae(envelope.payload_type, envelope.payload)
    failure: VerificationFailed | None = None
    for entry in envelope.signatures:
        try:
            verifier.verify(signed, Signature(entry.sig))
        except VerificationFailed as exc:
            failure = exc
            continue
        return envelope.payload
    assert failure is not None  # parse() guarantees at least one signature
    raise failure
