"""The signing seam: :class:`Signer` and :class:`Verifier`, and their key-based forms.

The seam is narrow on purpose: a signer turns bytes into a :class:`Signature` (the
signature and, for keyless signing, the certificate that vouches for the key); a verifier
checks one. Keyless signing (a Fulcio certificate, a Rekor entry) plugs in as another
Signer/Verifier pair without changing payloads, envelopes or OCI objects.

Algorithms as cosign uses them: ECDSA with SHA-256 on P-256 (SHA-384 on P-384, SHA-512 on
P-521; SHA-256 is accepted there too, as older cosign signed so), DER-encoded; RSA
PKCS#1 v1.5 with SHA-256; Ed25519 over the message itself.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from imageforge.sign._errors import VerificationFailed
from imageforge.sign._keys import PrivateKey, PublicKey

__all__ = [
    "KeySigner",
    "KeyVerifier",
    "Signature",
    "Signer",
    "Verifier",
    "decode_signature",
    "encode_signature",
]


def _ecdsa_hash(algorithm: str) -> hashes.HashAlgorithm:
    if algorithm == "ecdsa-p384":
        return hashes.SHA384()
    if algorithm == "ecdsa-p521":
        return hashes.SHA512()
    return hashes.SHA256()


@dataclass(frozen=True)
class Signature:
    """A signature over some bytes; ``certificate`` (PEM) when the key is vouched for by
    one (keyless signing), ``None`` for a plain key."""

    signature: bytes
    certificate: bytes | None = None

    @property
    def b64(self) -> str:
        """The signature as cosign writes it (standard base64)."""
        return encode_signature(self.signature)


class Signer(Protocol):
    def sign(self, data: bytes) -> Signature: ...


class Verifier(Protocol):
    def verify(self, data: bytes, signature: Signature) -> None:
        """Return if ``signature`` holds over ``data``; raise :class:`VerificationFailed`
        (reason ``bad-signature``) if not."""
        ...


def encode_signature(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_signature(text: str, *, what: str = "signature") -> bytes:
    """The bytes of a base64 signature; garbage is a :class:`VerificationFailed`
    (``malformed``)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise VerificationFailed(
            f"{what} is not valid base64", reason="malformed", hint="the signature is damaged"
        ) from None
    if not raw:
        raise VerificationFailed(f"{what} is empty", reason="malformed")
    return raw


class KeySigner:
    """Signs with a private key (``cosign sign --key``)."""

    def __init__(self, key: PrivateKey) -> None:
        self._key = key

    @property
    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> Signature:
        key = self._key.key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            raw = key.sign(data, ec.ECDSA(_ecdsa_hash(self._key.algorithm)))
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            raw = key.sign(data)
        else:
            raw = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return Signature(raw)

    def __repr__(self) -> str:
        return f"KeySigner({self._key.algorithm})"


class KeyVerifier:
    """Checks signatures with a public key (``cosign verify --key``)."""

    def __init__(self, key: PublicKey) -> None:
        self._key = key

    @property
    def public_key(self) -> PublicKey:
        return self._key

    def verify(self, data: bytes, signature: Signature) -> None:
        key = self._key.key
        raw = signature.signature
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                self._verify_ecdsa(key, raw, data)
            elif isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(raw, data)
            else:
                assert isinstance(key, rsa.RSAPublicKey)
                key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            raise VerificationFailed(
                f"the signature does not verify with the {self._key.algorithm} key given",
                reason="bad-signature",
                hint="the content was changed after signing, or it was signed by another key",
            ) from None

    def _verify_ecdsa(self, key: ec.EllipticCurvePublicKey, raw: bytes, data: bytes) -> None:
        preferred = _ecdsa_hash(self._key.algorithm)
        try:
            key.verify(raw, data, ec.ECDSA(preferred))
        except InvalidSignature:
            if isinstance(preferred, hashes.SHA256):
                raise
            key.verify(raw, data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"KeyVerifier({self._key.algorithm})"
