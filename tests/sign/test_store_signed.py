"""Signatures travel with the image through the local store: ``pull`` keeps them, so a
pulled image verifies with the registry gone; ``push`` carries them on to another
registry; a stored signature changed by one byte is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.oci import Digest, Reference
from imageforge.pipeline import attest_image, sign_image
from imageforge.pipeline._sign_repos import StoreRepository, resolve_target
from imageforge.pipeline._sign_store import SIGNATURES, find_attached
from imageforge.store import Store
from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import Distribution, ok
from tests.sign.conftest import KeyPair, logged_in, password_signer


def _local(root: Path, *args: str) -> tuple[int, str, str]:
    r = run_cli(["--root", str(root), *args, "--local"])
    return r.returncode, r.stdout, r.stderr


@pytest.mark.slow
def test_a_pulled_image_verifies_from_the_store_and_its_push_carries_them(
    ours: Server,
    distribution: Distribution,
    authfile: Path,
    images_root: Path,
    keys: KeyPair,
    tmp_path: Path,
) -> None:
    root = images_root
    here, there = logged_in(ours, root, authfile), logged_in(distribution, root, authfile)
    digest = here.push("hello:1", "hello:1")
    with here.session() as s:
        signer = password_signer(keys)
        sign_image(s, here.ref("hello:1"), signer)  # the .sig tag
        attest_image(s, here.ref("hello:1"), signer, {"scanner": {}}, "vuln", mode="oci-1-1")

    pulled, bare = tmp_path / "pulled", tmp_path / "bare"
    name = here.ref("hello:1")
    ok(run_cli(["--root", str(pulled), "pull", name, "--tls-verify=false"]))
    ok(run_cli(["--root", str(bare), "pull", name, "--remove-signatures", "--tls-verify=false"]))
    ours.stop()  # the network is gone from here on: only the store answers

    code, out, err = _local(pulled, "verify", name, "--key", str(keys.public), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["digest"] == digest
    code, _, err = _local(
        pulled, "verify-attestation", name, "--key", str(keys.public), "--type", "vuln"
    )
    assert code == 0, err
    code, out, err = _local(bare, "verify", name, "--key", str(keys.public), "--format", "json")
    assert code == 8 and json.loads(out)["reason"] == "no-signature", err
    # a signature's name in the store is not an image to run
    sig = f"{Reference.parse(name).name}:sha256-{Digest(digest).hex}.sig"
    r = run_cli(["--root", str(pulled), "run", sig, "true"])
    assert r.returncode != 0 and "not an image with a filesystem" in r.stderr, r.stderr

    # push carries both on, to a registry without the referrers API
    dest = there.ref("hello:1")
    r = run_cli(["--root", str(pulled), "push", name, f"docker://{dest}", "--tls-verify=false"])
    assert ok(r).stdout.strip() == digest
    r = run_cli(there.cli("verify", dest, "--key", str(keys.public)))
    assert r.returncode == 0, r.stderr
    r = run_cli(there.cli("verify-attestation", dest, "--key", str(keys.public), "--type", "vuln"))
    assert r.returncode == 0, r.stderr

    # a build signed into the store (no registry): its push carries signature and provenance
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM hello:1\nCOPY msg /msg\n")
    (context / "msg").write_text("hi\n")
    r = run_cli(
        [
            *here.cli("build", str(context), "-t", "built:1", "--sign", "--provenance"),
            "--key",
            str(keys.private),
            "--format",
            "json",
        ],
        env=here.env,
    )
    built = json.loads(ok(r).stdout)["digest"]
    code, _, err = _local(root, "verify", "built:1", "--key", str(keys.public))
    assert code == 0, err
    dest = there.ref("built:1")
    ok(run_cli(there.cli("push", "built:1", f"docker://{dest}")))
    r = run_cli(there.cli("verify", dest, "--key", str(keys.public), "--format", "json"))
    assert r.returncode == 0 and json.loads(r.stdout)["digest"] == built, r.stderr
    r = run_cli(
        there.cli(
            "verify-attestation", dest, "--key", str(keys.public), "--type", "slsaprovenance1"
        )
    )
    assert r.returncode == 0, r.stderr

    # one byte of the stored signed payload changed: refused, with the reason
    store = Store(pulled)
    target = resolve_target(StoreRepository(store, Reference.parse(name)))
    payload = find_attached(target, SIGNATURES).attached[0].layer.digest
    blob = pulled / "blobs" / "sha256" / payload.hex
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[-2] ^= 0x01
    blob.write_bytes(bytes(data))
    code, out, err = _local(pulled, "verify", name, "--key", str(keys.public), "--format", "json")
    assert code == 8 and json.loads(out)["reason"] == "malformed", err
    assert "does not match its descriptor" in err
