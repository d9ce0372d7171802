"""cosign's encrypted private key: a JSON envelope in a PEM block.

The envelope (what go-securesystemslib's ``encrypted`` package writes for cosign)::

    {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":"<base64 32 bytes>"},
     "cipher":{"name":"nacl/secretbox","nonce":"<base64 24 bytes>"},
     "ciphertext":"<base64>"}

The 32-byte secretbox key is scrypt(password, salt, N, r, p); the plaintext is the key's
PKCS#8 DER. Both primitives come from libraries (``cryptography``'s scrypt, PyNaCl's
secretbox); nothing here is hand-rolled crypto.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import textwrap
from typing import Any, Final

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from imageforge.errors import InvalidArgument, Unauthorized
from imageforge.oci import load_json

__all__ = [
    "COSIGN_PEM_TYPE",
    "KDF_PARAMS",
    "SIGSTORE_PEM_TYPE",
    "decrypt_envelope",
    "encrypt_envelope",
]

SIGSTORE_PEM_TYPE: Final = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM_TYPE: Final = "ENCRYPTED COSIGN PRIVATE KEY"
# What cosign writes today (go-securesystemslib's defaults).
KDF_PARAMS: Final = {"N": 32768, "r": 8, "p": 1}
_SALT_BYTES: Final = 32
# Envelopes asking for more work than this are refused before scrypt runs: N=2**18 with
# r=8 already needs 256 MiB; cosign's own keys use 2**15 or 2**16.
_MAX_N: Final = 1 << 18
_MAX_R: Final = 16
_MAX_P: Final = 16


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=nacl.secret.SecretBox.KEY_SIZE, n=n, r=r, p=p).derive(password)


def encrypt_envelope(
    plaintext: bytes, password: bytes, *, pem_type: str = SIGSTORE_PEM_TYPE
) -> bytes:
    """``plaintext`` sealed in cosign's envelope, as a PEM block of ``pem_type``."""
    if pem_type not in (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE):
        raise InvalidArgument(f"not a cosign private key PEM type: {pem_type!r}")
    salt = os.urandom(_SALT_BYTES)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    key = _derive(password, salt, KDF_PARAMS["N"], KDF_PARAMS["r"], KDF_PARAMS["p"])
    sealed = nacl.secret.SecretBox(key).encrypt(plaintext, nonce).ciphertext
    # Field order as cosign's (Go struct order), so the files read alike.
    envelope = {
        "kdf": {"name": "scrypt", "params": dict(KDF_PARAMS), "salt": _b64(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": _b64(nonce)},
        "ciphertext": _b64(sealed),
    }
    body = base64.b64encode(json.dumps(envelope, separators=(",", ":")).encode()).decode()
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN {pem_type}-----\n{lines}\n-----END {pem_type}-----\n".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: Any, field: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise _damaged(what, f"{field} is not a string")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise _damaged(what, f"{field} is not valid base64") from None


def _damaged(what: str, detail: str) -> InvalidArgument:
    return InvalidArgument(
        f"{what}: the encrypted key envelope is damaged ({detail})",
        hint="the key file is truncated or was changed; copy it again",
    )


def _int_param(params: dict[str, Any], name: str, limit: int, what: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _damaged(what, f"scrypt parameter {name} is not a positive integer")
    if value > limit:
        raise InvalidArgument(
            f"{what}: scrypt parameter {name}={value} is above imageforge's limit of {limit}",
            hint="cosign writes N=32768, r=8, p=1; a key asking for more work may be hostile",
        )
    return value


def decrypt_envelope(envelope: bytes, password: bytes, *, what: str = "private key") -> bytes:
    """The plaintext of cosign's JSON ``envelope`` (the decoded PEM body).

    A damaged envelope is an :class:`InvalidArgument`; a wrong password (the secretbox
    does not open) an :class:`Unauthorized`."""
    try:
        data = load_json(envelope, what)
    except InvalidArgument:  # bad UTF-8 or JSON, or hostile nesting
        raise _damaged(what, "not JSON") from None
    if not isinstance(data, dict):
        raise _damaged(what, "not a JSON object")
    kdf, cipher = data.get("kdf"), data.get("cipher")
    if not isinstance(kdf, dict) or not isinstance(cipher, dict):
        raise _damaged(what, "kdf or cipher missing")
    if kdf.get("name") != "scrypt":
        raise InvalidArgument(
            f"{what}: key derivation {kdf.get('name')!r} is not supported",
            hint="cosign keys use scrypt",
        )
    if cipher.get("name") != "nacl/secretbox":
        raise InvalidArgument(
            f"{what}: cipher {cipher.get('name')!r} is not supported",
            hint="cosign keys use nacl/secretbox",
        )
    params = kdf.get("params")
    if not isinstance(params, dict):
        raise _damaged(what, "scrypt parameters missing")
    n = _int_param(params, "N", _MAX_N, what)
    if n & (n - 1) or n < 2:
        raise _damaged(what, "scrypt parameter N is not a power of two")
    r = _int_param(params, "r", _MAX_R, what)
    p = _int_param(params, "p", _MAX_P, what)
    salt = _unb64(kdf.get("salt"), "salt", what)
    nonce = _unb64(cipher.get("nonce"), "nonce", what)
    ciphertext = _unb64(data.get("ciphertext"), "ciphertext", what)
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise _damaged(what, f"nonce of {len(nonce)} bytes, expected 24")
    key = _derive(password, salt, n, r, p)
    try:
        return nacl.secret.SecretBox(key).decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise Unauthorized(
            f"{what}: wrong password (or the encrypted key was changed): it does not decrypt",
            hint="check COSIGN_PASSWORD or the password typed at the prompt",
        ) from None
