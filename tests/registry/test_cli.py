"""``imageforge registry serve``: bad configuration is refused clearly; TLS works."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import run_cli
from tests.registry.conftest import Server


def test_broken_config_is_refused_with_its_file(tmp_path: Path) -> None:
    cfg = tmp_path / "registry.toml"
    cfg.write_text("[[projects]]\nname = 'team'\nmembers = { bob = 'owner' }\n")
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg)])
    assert r.returncode == 2
    assert f"error: {cfg}: project team: role 'owner' of bob" in r.stderr
    cfg.write_text("[registry\n")
    r = run_cli(["registry", "serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg)])
    assert r.returncode == 2 and str(cfg) in r.stderr


def test_bad_address_is_refused(tmp_path: Path) -> None:
    r = run_cli(["registry", "serve", "--addr", "nowhere", "--data-dir", str(tmp_path)])
    assert r.returncode == 2 and "is not HOST:PORT" in r.stderr


def test_generated_admin_password_is_printed_once_and_works(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", None)
    srv.env = {"IMAGEFORGE_ADMIN_PASSWORD": ""}
    srv.start()
    srv.stop()
    log = srv.log()
    password = log.split("created user admin with password ")[1].split()[0]
    srv.start()
    try:
        assert srv.log().count("created user admin") == 1
        with srv.client("admin", password) as c:
            assert c.post("/v2/library/x/blobs/uploads/").status_code == 202
    finally:
        srv.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def test_serves_over_tls(tmp_path: Path) -> None:
    srv = Server(tmp_path / "data", None, tls=_self_signed(tmp_path))
    srv.start()
    try:
        with srv.client() as c:
            r = c.get("/v2/")
            assert r.status_code == 200
            assert r.url.scheme == "https"
        with srv.client(user=None) as anon:
            challenge = anon.post("/v2/library/x/blobs/uploads/").headers["www-authenticate"]
        assert f'realm="{srv.url}/token"' in challenge
    finally:
        srv.stop()
