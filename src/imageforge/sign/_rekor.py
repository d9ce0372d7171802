"""A transparency-log entry (Rekor) checked offline: the log's signed entry timestamp
(SET) over the entry, and the entry's binding to the signature and payload it logs.

Two carriers hold an entry: cosign's ``dev.sigstore.cosign/bundle`` annotation on a
signature layer (``{"SignedEntryTimestamp": b64, "Payload": {"body", "integratedTime",
"logIndex", "logID"}}``) and a Sigstore bundle's ``verificationMaterial.tlogEntries[]``
(``canonicalizedBody``, ``inclusionPromise.signedEntryTimestamp``, ...). The SET is the
log's signature over the canonical JSON (keys sorted, no spaces) of ``{"body",
"integratedTime", "logID", "logIndex"}``, as Rekor signs it and cosign checks it; the
log is named by ``logID``, the SHA-256 of its public key (DER). An inclusion proof is
not checked: that needs the log's signed checkpoint, which is online material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from imageforge.sign._errors import VerificationFailed, json_object
from imageforge.sign._keys import PublicKey
from imageforge.sign._signer import KeyVerifier, Signature

__all__ = ["LogEntry", "log_id"]


def log_id(key: PublicKey) -> str:
    """A log's ID as Rekor gives it: the hex SHA-256 of its public key's DER."""
    der = key.key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _bad(what: str, detail: str) -> VerificationFailed:
    return VerificationFailed(f"{what}: {detail}", reason="bad-log-entry")


def _b64(value: Any, field: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise _bad(what, f"{field} missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(what, f"{field} is not valid base64") from None


def _int(value: Any, field: str, what: str) -> int:
    # protobuf's JSON writes int64 as a string, cosign's bundle as a number
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _bad(what, f"{field} missing")
    try:
        return int(value)
    except ValueError:
        raise _bad(what, f"{field} is not an integer") from None


@dataclass(frozen=True)
class LogEntry:
    """One logged entry and the log's promise (SET) that it was included."""

    body: str  # base64 of the entry, as the log signed it
    integrated_time: int
    log_index: int
    log_id: str  # hex
    signed_entry_timestamp: bytes
    what: str = "Rekor bundle"

    @classmethod
    def from_cosign_bundle(cls, text: str, *, what: str = "Rekor bundle") -> LogEntry:
        """The entry in cosign's ``dev.sigstore.cosign/bundle`` annotation."""
        data = json_object(text.encode(), what)
        payload = data.get("Payload")
        if not isinstance(payload, dict):
            raise _bad(what, "Payload missing")
        log = payload.get("logID")
        if not isinstance(log, str):
            raise _bad(what, "Payload.logID missing")
        body = payload.get("body")
        if not isinstance(body, str):
            raise _bad(what, "Payload.body missing")
        return cls(
            body,
            _int(payload.get("integratedTime"), "Payload.integratedTime", what),
            _int(payload.get("logIndex"), "Payload.logIndex", what),
            log,
            _b64(data.get("SignedEntryTimestamp"), "SignedEntryTimestamp", what),
            what,
        )

    @classmethod
    def from_bundle_entry(cls, data: Any, *, what: str = "tlog entry") -> LogEntry:
        """An entry of a Sigstore bundle's ``verificationMaterial.tlogEntries``."""
        if not isinstance(data, dict):
            raise _bad(what, "not an object")
        promise, log = data.get("inclusionPromise"), data.get("logId")
        if not isinstance(promise, dict):
            raise _bad(what, "no inclusionPromise (a signed entry timestamp) to check")
        if not isinstance(log, dict):
            raise _bad(what, "logId missing")
        body = data.get("canonicalizedBody")
        if not isinstance(body, str):
            raise _bad(what, "canonicalizedBody missing")
        return cls(
            body,
            _int(data.get("integratedTime"), "integratedTime", what),
            _int(data.get("logIndex"), "logIndex", what),
            _b64(log.get("keyId"), "logId.keyId", what).hex(),
            _b64(promise.get("signedEntryTimestamp"), "signedEntryTimestamp", what),
            what,
        )

    def signed_bytes(self) -> bytes:
        """What the SET signs: the canonical JSON of the entry's four fields."""
        document = {
            "body": self.body,
            "integratedTime": self.integrated_time,
            "logID": self.log_id,
            "logIndex": self.log_index,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()

    def verify(self, log_key: PublicKey) -> None:
        """Return when the log whose key is ``log_key`` signed this entry's SET."""
        if self.log_id != log_id(log_key):
            raise _bad(
                self.what,
                f"logged by log {self.log_id[:16]}..., not by the log whose key was given "
                f"({log_id(log_key)[:16]}...)",
            )
        try:
            KeyVerifier(log_key).verify(self.signed_bytes(), Signature(self.signed_entry_timestamp))
        except VerificationFailed:
            raise _bad(
                self.what, "the log's signed entry timestamp does not verify with its key"
            ) from None

    def check_binds(self, signature: bytes, payload: bytes) -> None:
        """Return when the logged entry is of ``signature`` over ``payload`` (a
        ``hashedrekord`` entry of a signature, or a ``dsse`` entry of an envelope)."""
        entry = json_object(_b64(self.body, "body", self.what), f"{self.what} body")
        spec = entry.get("spec")
        if not isinstance(spec, dict):
            raise _bad(self.what, "the logged entry has no spec")
        digest = hashlib.sha256(payload).hexdigest()
        kind = entry.get("kind")
        if kind == "hashedrekord":
            logged_hash = _field(spec, ("data", "hash", "value"))
            logged_sigs = [_field(spec, ("signature", "content"))]
        elif kind == "dsse":
            logged_hash = _field(spec, ("payloadHash", "value"))
            sigs = spec.get("signatures")
            logged_sigs = (
                [s.get("signature") for s in sigs if isinstance(s, dict)]
                if isinstance(sigs, list)
                else []
            )
        else:
            raise _bad(self.what, f"a logged entry of kind {kind!r} is not read")
        if logged_hash != digest:
            raise _bad(self.what, "the logged entry is of another payload")
        wanted = base64.b64encode(signature).decode()
        if wanted not in logged_sigs:
            raise _bad(self.what, "the logged entry is of another signature")


def _field(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
