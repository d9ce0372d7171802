"""``imageforge key generate|import`` as a user runs them: cosign's file formats, the
password from COSIGN_PASSWORD, existing files kept, errors with their exit codes, and no
key material on the terminal."""

from __future__ import annotations

import base64
import json
import shutil
import stat
from pathlib import Path

from imageforge.cli._exit import EXIT_CODES
from imageforge.errors import ErrorKind
from imageforge.sign import (
    SIGSTORE_PEM_TYPE,
    KeySigner,
    KeyVerifier,
    load_private_key,
    load_public_key,
)
from tests.conftest import run_cli

DATA = Path(__file__).resolve().parents[1] / "sign" / "data"


def _body(pem: bytes) -> str:
    return "".join(pem.decode().strip().splitlines()[1:-1])


def test_generate_writes_a_cosign_key_pair(tmp_path: Path) -> None:
    proc = run_cli(["key", "generate"], env={"COSIGN_PASSWORD": "s3cret"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "Private key written to cosign.key\nPublic key written to cosign.pub\n"
    private, public = (tmp_path / "cosign.key").read_bytes(), (tmp_path / "cosign.pub").read_bytes()
    assert stat.S_IMODE((tmp_path / "cosign.key").stat().st_mode) == 0o600
    assert private.startswith(f"-----BEGIN {SIGSTORE_PEM_TYPE}-----\n".encode())
    envelope = json.loads(base64.b64decode(_body(private)))
    assert envelope["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    key = load_private_key(private, b"s3cret")
    assert load_public_key(public) == key.public_key()
    KeyVerifier(load_public_key(public)).verify(b"x", KeySigner(key).sign(b"x"))
    assert _body(private)[:20] not in proc.stdout + proc.stderr


def test_generate_with_prefix_and_json(tmp_path: Path) -> None:
    proc = run_cli(
        ["key", "generate", "--output-key-prefix", "keys/release", "--format", "json"],
        env={"COSIGN_PASSWORD": ""},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "privateKey": "keys/release.key",
        "publicKey": "keys/release.pub",
        "algorithm": "ecdsa-p256",
    }
    load_private_key((tmp_path / "keys/release.key").read_bytes(), b"")


def test_existing_key_is_not_replaced_without_force(tmp_path: Path) -> None:
    env = {"COSIGN_PASSWORD": "a"}
    assert run_cli(["key", "generate"], env=env, cwd=tmp_path).returncode == 0
    before = (tmp_path / "cosign.key").read_bytes()
    proc = run_cli(["key", "generate"], env=env, cwd=tmp_path)
    assert proc.returncode == EXIT_CODES[ErrorKind.ALREADY_EXISTS]
    assert "cosign.key already exists" in proc.stderr and "--force" in proc.stderr
    assert (tmp_path / "cosign.key").read_bytes() == before
    assert run_cli(["key", "generate", "--force"], env=env, cwd=tmp_path).returncode == 0
    assert (tmp_path / "cosign.key").read_bytes() != before


def test_no_password_and_no_terminal_is_a_clear_error(tmp_path: Path) -> None:
    proc = run_cli(["key", "generate"], cwd=tmp_path)
    assert proc.returncode == EXIT_CODES[ErrorKind.UNAUTHORIZED]
    assert "a password is needed" in proc.stderr and "COSIGN_PASSWORD" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_import_of_cosigns_key_keeps_the_key(tmp_path: Path) -> None:
    proc = run_cli(
        ["key", "import", str(DATA / "cosign-pkcs8.key")],
        env={"COSIGN_PASSWORD": "hello"},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    original = load_private_key((DATA / "cosign-pkcs8.key").read_bytes(), b"hello")
    imported = load_private_key((tmp_path / "import-cosign.key").read_bytes(), b"hello")
    assert imported.public_key() == original.public_key()
    assert load_public_key((tmp_path / "import-cosign.pub").read_bytes()) == original.public_key()


def test_import_of_a_pkcs1_rsa_key(tmp_path: Path) -> None:
    shutil.copy(DATA / "rsa-pkcs1.key", tmp_path / "rsa.pem")
    proc = run_cli(
        ["key", "import", "rsa.pem", "--output-key-prefix", "rsa", "--format", "json"],
        env={"COSIGN_PASSWORD": "pw"},
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["algorithm"] == "rsa-2048"
    assert _body((tmp_path / "rsa.pem").read_bytes())[:40] not in proc.stdout + proc.stderr


def test_import_with_wrong_password_writes_nothing(tmp_path: Path) -> None:
    proc = run_cli(
        ["key", "import", str(DATA / "sigstore.key")],
        env={"COSIGN_PASSWORD": "wrong"},
        cwd=tmp_path,
    )
    assert proc.returncode == EXIT_CODES[ErrorKind.UNAUTHORIZED]
    assert "wrong password" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_import_of_truncated_or_foreign_key_is_refused(tmp_path: Path) -> None:
    pem = (DATA / "rsa-pkcs8.key").read_bytes()
    (tmp_path / "cut.key").write_bytes(pem[: len(pem) - 60])
    proc = run_cli(["key", "import", "cut.key"], env={"COSIGN_PASSWORD": "x"}, cwd=tmp_path)
    assert proc.returncode == EXIT_CODES[ErrorKind.INVALID_ARGUMENT]
    assert "cut.key: the PEM block has no matching END line" in proc.stderr
    proc = run_cli(
        ["key", "import", str(DATA / "invalid-ec-p224.key")], env={"COSIGN_PASSWORD": "x"}
    )
    assert proc.returncode == EXIT_CODES[ErrorKind.INVALID_ARGUMENT]
    assert "curve secp224r1 is not allowed" in proc.stderr
    proc = run_cli(["key", "import", "missing.key"], env={"COSIGN_PASSWORD": "x"}, cwd=tmp_path)
    assert proc.returncode == EXIT_CODES[ErrorKind.NOT_FOUND]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.key"]
