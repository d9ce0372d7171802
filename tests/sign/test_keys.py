"""Keys: cosign's committed keys load, keys imageforge writes have cosign's envelope, and
bad keys and wrong passwords are refused with clear errors that never show key material."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from imageforge.errors import ImageforgeError, InvalidArgument, Unauthorized
from imageforge.sign import (
    COSIGN_PEM_TYPE,
    PASSWORD_ENV,
    SIGSTORE_PEM_TYPE,
    KeySigner,
    KeyVerifier,
    PrivateKey,
    generate_key,
    load_private_key,
    load_public_key,
    password_from_env,
)

DATA = Path(__file__).parent / "data"
PASSWORD = b"hello"  # the password of cosign's test keys (pkg/cosign/keys_test.go)

VALID_KEYS = {
    "sigstore.key": "ecdsa-p256",
    "cosign-pkcs8.key": "ecdsa-p256",
    "cosign-sec1.key": "ecdsa-p256",
    "rsa-pkcs1.key": "rsa-2048",
    "rsa-pkcs1-2.key": "rsa-2048",
    "rsa-pkcs8.key": "rsa-2048",
    "ec-p256-sec1.key": "ecdsa-p256",
    "ec-p384-sec1.key": "ecdsa-p384",
    "ec-p521-sec1.key": "ecdsa-p521",
    "ec-p256-pkcs8.key": "ecdsa-p256",
    "ed25519-pkcs8.key": "ed25519",
}


def _envelope(pem: bytes) -> tuple[str, dict[str, Any]]:
    lines = pem.decode().strip().splitlines()
    pem_type = lines[0].removeprefix("-----BEGIN ").removesuffix("-----")
    return pem_type, json.loads(base64.b64decode("".join(lines[1:-1])))


def _shape(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope with its random parts (salt, nonce, ciphertext) reduced to lengths."""
    return {
        "keys": list(envelope),
        "kdf": {
            "name": envelope["kdf"]["name"],
            "params": envelope["kdf"]["params"],
            "param_order": list(envelope["kdf"]["params"]),
            "salt_bytes": len(base64.b64decode(envelope["kdf"]["salt"])),
        },
        "cipher": {
            "name": envelope["cipher"]["name"],
            "nonce_bytes": len(base64.b64decode(envelope["cipher"]["nonce"])),
        },
    }


@pytest.mark.parametrize(("name", "algorithm"), sorted(VALID_KEYS.items()))
def test_every_cosign_test_key_loads_and_signs(name: str, algorithm: str) -> None:
    key = load_private_key((DATA / name).read_bytes(), PASSWORD, what=name)
    assert key.algorithm == algorithm
    signature = KeySigner(key).sign(b"payload")
    KeyVerifier(key.public_key()).verify(b"payload", signature)


def test_a_written_key_has_the_envelope_of_cosigns_current_key() -> None:
    key = generate_key()
    ours_type, ours = _envelope(key.to_cosign_pem(b"secret"))
    theirs_type, theirs = _envelope((DATA / "sigstore.key").read_bytes())
    assert ours_type == theirs_type == SIGSTORE_PEM_TYPE
    assert _shape(ours) == _shape(theirs)
    assert ours["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    assert ours["cipher"]["name"] == "nacl/secretbox"
    # The PEM body is wrapped at 64 columns, as Go's pem package writes it.
    body_lines = key.to_cosign_pem(b"secret").decode().strip().splitlines()[1:-1]
    assert all(len(line) == 64 for line in body_lines[:-1])


def test_a_written_key_decrypts_to_pkcs8_and_loads_back() -> None:
    key = generate_key()
    pem = key.to_cosign_pem(b"pw", pem_type=COSIGN_PEM_TYPE)
    assert pem.startswith(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    again = load_private_key(pem, b"pw")
    assert again.public_key() == key.public_key()
    # and a signature made by one verifies with the other
    KeyVerifier(again.public_key()).verify(b"x", KeySigner(key).sign(b"x"))


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa-2048"])
def test_generated_keys_round_trip_through_cosign_pem(algorithm: str) -> None:
    key = generate_key(algorithm)
    again = load_private_key(key.to_cosign_pem(b""), b"")
    assert again.algorithm == algorithm
    pub = load_public_key(key.public_key().to_pem())
    assert pub == key.public_key()
    assert key.public_key().to_pem().startswith(b"-----BEGIN PUBLIC KEY-----\n")


def test_wrong_password_is_refused_clearly() -> None:
    with pytest.raises(Unauthorized) as info:
        load_private_key((DATA / "sigstore.key").read_bytes(), b"wrong", what="cosign.key")
    assert "cosign.key: wrong password" in str(info.value)
    assert info.value.hint is not None and "COSIGN_PASSWORD" in info.value.hint


def test_an_encrypted_key_without_password_is_refused() -> None:
    with pytest.raises(Unauthorized, match="encrypted and no password"):
        load_private_key((DATA / "sigstore.key").read_bytes(), None)


def test_truncated_key_is_refused_clearly() -> None:
    pem = (DATA / "sigstore.key").read_bytes()
    with pytest.raises(InvalidArgument, match="no matching END line") as info:
        load_private_key(pem[: len(pem) // 2], PASSWORD, what="cosign.key")
    assert "truncated" in (info.value.hint or "")


def test_key_with_lines_cut_out_is_refused_as_damaged() -> None:
    lines = (DATA / "sigstore.key").read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:3] + lines[5:])
    with pytest.raises(InvalidArgument, match="damaged|base64"):
        load_private_key(damaged, PASSWORD)


def test_one_changed_byte_in_the_ciphertext_does_not_open() -> None:
    pem_type, envelope = _envelope((DATA / "sigstore.key").read_bytes())
    sealed = bytearray(base64.b64decode(envelope["ciphertext"]))
    sealed[10] ^= 1
    envelope["ciphertext"] = base64.b64encode(bytes(sealed)).decode()
    body = base64.b64encode(json.dumps(envelope).encode()).decode()
    pem = f"-----BEGIN {pem_type}-----\n{body}\n-----END {pem_type}-----\n".encode()
    with pytest.raises(Unauthorized, match="does not decrypt"):
        load_private_key(pem, PASSWORD)


def test_hostile_scrypt_parameters_are_refused_before_any_work() -> None:
    pem_type, envelope = _envelope((DATA / "sigstore.key").read_bytes())
    envelope["kdf"]["params"]["N"] = 1 << 30
    body = base64.b64encode(json.dumps(envelope).encode()).decode()
    pem = f"-----BEGIN {pem_type}-----\n{body}\n-----END {pem_type}-----\n".encode()
    with pytest.raises(InvalidArgument, match="above imageforge's limit"):
        load_private_key(pem, PASSWORD)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("invalid-ec-p224.key", "curve secp224r1 is not allowed"),
        ("invalid-ec-secp256k1.key", "curve secp256k1 is not allowed"),
        ("invalid-rsa-1024.key", "RSA key size 1024 is not supported"),
        ("invalid-rsa-5120.key", "RSA key size 5120 is not supported"),
        ("invalid-rsa-public.key", "'PUBLIC KEY' is not a private key"),
        ("invalid-pgp.key", "'PGP PRIVATE KEY BLOCK' is not a private key"),
    ],
)
def test_keys_cosign_refuses_are_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        load_private_key((DATA / name).read_bytes(), PASSWORD, what=name)


def test_a_private_key_given_as_public_key_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="not a public key"):
        load_public_key((DATA / "ec-p256-pkcs8.key").read_bytes(), what="cosign.pub")


def test_not_a_pem_file_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="not a PEM key file"):
        load_private_key(b"hello world\n")


def test_no_key_material_in_repr_or_errors() -> None:
    raw = (DATA / "ec-p256-pkcs8.key").read_bytes()
    key = load_private_key(raw)
    secret = key.key.private_numbers().private_value  # type: ignore[union-attr]
    texts = [repr(key), str(key), repr(KeySigner(key)), repr(key.public_key())]
    body = b"".join(raw.splitlines()[1:-1]).decode()
    errors: list[ImageforgeError] = []
    for damaged in (raw.replace(b"Ag", b"Ah", 1), raw[:-40]):
        try:
            load_private_key(damaged)
        except ImageforgeError as exc:
            errors.append(exc)
    try:
        load_private_key((DATA / "sigstore.key").read_bytes(), b"nope")
    except ImageforgeError as exc:
        errors.append(exc)
    assert len(errors) == 3
    texts += [f"{e} {e.hint}" for e in errors]
    for text in texts:
        assert str(secret) not in text and format(secret, "x") not in text
        assert body[:16] not in text and "hello" not in text


def test_password_comes_from_cosign_password_first(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bool] = []

    def prompt(confirm: bool) -> bytes:
        asked.append(confirm)
        return PASSWORD

    monkeypatch.setenv(PASSWORD_ENV, "hello")
    key = load_private_key((DATA / "sigstore.key").read_bytes(), password_from_env(prompt))
    assert key.algorithm == "ecdsa-p256" and asked == []
    monkeypatch.delenv(PASSWORD_ENV)
    load_private_key((DATA / "sigstore.key").read_bytes(), password_from_env(prompt))
    assert asked == [False]
    with pytest.raises(Unauthorized, match="password is needed"):
        load_private_key((DATA / "sigstore.key").read_bytes(), password_from_env())


def test_an_empty_cosign_password_is_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    pem = generate_key().to_cosign_pem(b"")
    monkeypatch.setenv(PASSWORD_ENV, "")
    assert isinstance(load_private_key(pem, password_from_env()), PrivateKey)


def test_pkcs8_encrypted_private_key_is_read_with_its_password() -> None:
    key = generate_key()
    pem = key.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert load_private_key(pem, b"pw").public_key() == key.public_key()
    with pytest.raises(Unauthorized, match="wrong password"):
        load_private_key(pem, b"other")


def test_unknown_algorithm_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown key algorithm 'dsa'"):
        generate_key("dsa")
