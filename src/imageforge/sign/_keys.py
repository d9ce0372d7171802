"""Signing keys: generated, loaded from cosign's and from standard PEM files, written in
cosign's formats.

Key material never appears in a ``repr``, a log line or an exception's text: errors name
the file (``what``) and the problem, never bytes of the key.
"""

from __future__ import annotations

import binascii
import os
import re
from collections.abc import Callable
from typing import Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from imageforge.errors import InvalidArgument, Unauthorized
from imageforge.sign._cosign_key import (
    COSIGN_PEM_TYPE,
    SIGSTORE_PEM_TYPE,
    decrypt_envelope,
    encrypt_envelope,
)

__all__ = [
    "ALGORITHMS",
    "PASSWORD_ENV",
    "PasswordSource",
    "PrivateKey",
    "PublicKey",
    "generate_key",
    "load_private_key",
    "load_public_key",
    "password_from_env",
]

PASSWORD_ENV: Final = "COSIGN_PASSWORD"
ALGORITHMS: Final = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048", "rsa-4096")
# cosign refuses RSA keys outside these sizes and EC curves other than these.
_RSA_BITS: Final = range(2048, 4097)
_CURVES: Final = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)

# A password callback gets ``confirm``: True when a new key is being written (a prompt
# should ask twice), as cosign's PassFunc does.
PasswordSource = Callable[[bool], bytes]

PrivateKeyTypes = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKeyTypes = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


def _algorithm(key: PrivateKeyTypes | PublicKeyTypes, what: str) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        name = _CURVES.get(key.curve.name)
        if name is None:
            raise InvalidArgument(
                f"{what}: ECDSA curve {key.curve.name} is not allowed",
                hint="use a P-256, P-384 or P-521 key (cosign refuses the others too)",
            )
        return name
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "ed25519"
    if key.key_size not in _RSA_BITS:
        raise InvalidArgument(
            f"{what}: RSA key size {key.key_size} is not supported",
            hint="use an RSA key of 2048 to 4096 bits (cosign refuses the others too)",
        )
    return f"rsa-{key.key_size}"


class PublicKey:
    """A public key that can check signatures (ECDSA, Ed25519 or RSA)."""

    __slots__ = ("_key", "algorithm")

    def __init__(self, key: PublicKeyTypes, *, what: str = "public key") -> None:
        self.algorithm = _algorithm(key, what)
        self._key = key

    @property
    def key(self) -> PublicKeyTypes:
        return self._key

    def to_pem(self) -> bytes:
        """The key as cosign writes ``cosign.pub``: a PKIX ``PUBLIC KEY`` PEM block."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and self.to_pem() == other.to_pem()

    def __hash__(self) -> int:
        return hash(self.to_pem())

    def __repr__(self) -> str:
        return f"PublicKey({self.algorithm})"


class PrivateKey:
    """A private signing key. Its ``repr`` names the algorithm only."""

    __slots__ = ("_key", "algorithm")

    def __init__(self, key: PrivateKeyTypes, *, what: str = "private key") -> None:
        self.algorithm = _algorithm(key, what)
        self._key = key

    @property
    def key(self) -> PrivateKeyTypes:
        return self._key

    def public_key(self) -> PublicKey:
        return PublicKey(self._key.public_key())

    def to_pkcs8_der(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def to_cosign_pem(self, password: bytes, *, pem_type: str = SIGSTORE_PEM_TYPE) -> bytes:
        """The key encrypted as ``cosign generate-key-pair`` writes it: PKCS#8 DER in
        cosign's scrypt + NaCl secretbox envelope, in a PEM block of ``pem_type``."""
        return encrypt_envelope(self.to_pkcs8_der(), password, pem_type=pem_type)

    def __repr__(self) -> str:
        return f"PrivateKey({self.algorithm})"


def generate_key(algorithm: str = "ecdsa-p256") -> PrivateKey:
    """A new key; ECDSA P-256 unless ``algorithm`` (one of :data:`ALGORITHMS`) says
    otherwise."""
    key: PrivateKeyTypes
    if algorithm.startswith("ecdsa-"):
        curves: dict[str, ec.EllipticCurve] = {
            "ecdsa-p256": ec.SECP256R1(),
            "ecdsa-p384": ec.SECP384R1(),
            "ecdsa-p521": ec.SECP521R1(),
        }
        if algorithm not in curves:
            raise InvalidArgument(f"unknown key algorithm {algorithm!r}", hint=_algorithms_hint())
        key = ec.generate_private_key(curves[algorithm])
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm in ("rsa-2048", "rsa-4096"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[4:]))
    else:
        raise InvalidArgument(f"unknown key algorithm {algorithm!r}", hint=_algorithms_hint())
    return PrivateKey(key)


def _algorithms_hint() -> str:
    return "use one of " + ", ".join(ALGORITHMS)


def password_from_env(fallback: PasswordSource | None = None) -> PasswordSource:
    """A password source that reads :data:`PASSWORD_ENV` (``COSIGN_PASSWORD``, even when
    empty, as cosign does) and asks ``fallback`` when the variable is not set."""

    def source(confirm: bool) -> bytes:
        value = os.environ.get(PASSWORD_ENV)
        if value is not None:
            return value.encode()
        if fallback is None:
            raise Unauthorized(
                "a password is needed for the private key",
                hint=f"set {PASSWORD_ENV} (it may be empty) or run where a prompt can ask",
            )
        return fallback(confirm)

    return source


def _pem_block(data: bytes, what: str) -> tuple[str, bytes]:
    """The first PEM block of ``data``: its type and its whole text."""
    match = _PEM_BLOCK.search(data)
    if match is None:
        if b"-----BEGIN " in data:
            raise InvalidArgument(
                f"{what}: the PEM block has no matching END line",
                hint="the key file is truncated; copy it again",
            )
        raise InvalidArgument(
            f"{what}: not a PEM key file",
            hint="expected a cosign key (cosign.key), a PKCS#8 or PKCS#1/SEC1 PEM key",
        )
    return match.group(1).decode("ascii"), match.group(0)


def _pem_body(block: bytes, what: str) -> bytes:
    lines = block.splitlines()[1:-1]
    body = b"".join(line.strip() for line in lines if b":" not in line)
    try:
        return binascii.a2b_base64(body, strict_mode=True)
    except binascii.Error:
        raise InvalidArgument(
            f"{what}: the PEM block is not valid base64",
            hint="the key file is truncated or damaged; copy it again",
        ) from None


def load_private_key(
    data: bytes,
    password: PasswordSource | bytes | None = None,
    *,
    what: str = "private key",
) -> PrivateKey:
    """A private key from a PEM file: cosign's encrypted key (``ENCRYPTED SIGSTORE PRIVATE
    KEY`` or ``ENCRYPTED COSIGN PRIVATE KEY``), a PKCS#8 key (``PRIVATE KEY``, or
    ``ENCRYPTED PRIVATE KEY`` with a password), a PKCS#1 ``RSA PRIVATE KEY`` or a SEC1
    ``EC PRIVATE KEY``. ``password`` (bytes, or a source asked only when the key is
    encrypted) opens an encrypted key. ``what`` names the key in errors."""
    pem_type, block = _pem_block(data, what)
    if pem_type in (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE):
        secret = _password(password, what)
        der = decrypt_envelope(_pem_body(block, what), secret, what=what)
        return _private_from_der(der, what)
    if pem_type == "ENCRYPTED PRIVATE KEY":
        secret = _password(password, what)
        try:
            key = serialization.load_pem_private_key(block, secret)
        except ValueError:
            raise Unauthorized(
                f"{what}: wrong password, or the key is damaged",
                hint=f"check the password (from {PASSWORD_ENV} or the prompt)",
            ) from None
        return _checked_private(key, what)
    if pem_type not in ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"):
        raise InvalidArgument(
            f"{what}: a PEM block of type {pem_type!r} is not a private key imageforge reads",
            hint="expected a cosign key, a PKCS#8 'PRIVATE KEY', 'RSA PRIVATE KEY' "
            "or 'EC PRIVATE KEY'",
        )
    try:
        key = serialization.load_pem_private_key(block, None)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgument(
            f"{what}: the {pem_type} block cannot be read as a private key",
            hint="the key file is truncated or damaged, or uses an unsupported curve",
        ) from None
    return _checked_private(key, what)


def _password(password: PasswordSource | bytes | None, what: str) -> bytes:
    if isinstance(password, bytes):
        return password
    if password is None:
        raise Unauthorized(
            f"{what} is encrypted and no password was given",
            hint=f"set {PASSWORD_ENV} or give the password when asked",
        )
    return password(False)


def _private_from_der(der: bytes, what: str) -> PrivateKey:
    try:
        key = serialization.load_der_private_key(der, None)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgument(
            f"{what}: the decrypted key is not a PKCS#8 private key",
            hint="the key file was not written by cosign or imageforge",
        ) from None
    return _checked_private(key, what)


def _checked_private(key: object, what: str) -> PrivateKey:
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise InvalidArgument(
            f"{what}: unsupported private key type {type(key).__name__}",
            hint="use an ECDSA (P-256, P-384, P-521), Ed25519 or RSA key",
        )
    return PrivateKey(key, what=what)


def load_public_key(data: bytes, *, what: str = "public key") -> PublicKey:
    """A public key from a PEM file: a PKIX ``PUBLIC KEY`` (what ``cosign.pub`` holds), a
    PKCS#1 ``RSA PUBLIC KEY``, or the key of a ``CERTIFICATE``."""
    pem_type, block = _pem_block(data, what)
    key: object
    try:
        if pem_type == "CERTIFICATE":
            key = x509.load_pem_x509_certificate(block).public_key()
        elif pem_type in ("PUBLIC KEY", "RSA PUBLIC KEY"):
            key = serialization.load_pem_public_key(block)
        else:
            raise InvalidArgument(
                f"{what}: a PEM block of type {pem_type!r} is not a public key",
                hint="give the public key (cosign.pub), not the private key",
            )
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidArgument(
            f"{what}: the {pem_type} block cannot be read",
            hint="the key file is truncated or damaged; copy it again",
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise InvalidArgument(
            f"{what}: unsupported public key type {type(key).__name__}",
            hint="use an ECDSA (P-256, P-384, P-521), Ed25519 or RSA key",
        )
    return PublicKey(key, what=what)
