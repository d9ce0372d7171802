"""A copied image stays verifiable: ``copy`` between registry repositories carries its
signatures and attestations along in the layout they were in (distribution 2.8's
referrers tag schema and imageforge's referrers API in both directions), and
``--remove-signatures`` leaves them behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageforge.pipeline import attest_image, sign_image
from tests.conftest import run_cli
from tests.registry.conftest import Server
from tests.remote.conftest import Distribution, ok
from tests.sign.conftest import KeyPair, Registry, logged_in, password_signer


def _verify(registry: Registry, image: str, keys: KeyPair) -> tuple[int, str]:
    r = run_cli(registry.cli("verify", image, "--key", str(keys.public), "--format", "json"))
    return r.returncode, r.stderr


def _verify_attestation(registry: Registry, image: str, keys: KeyPair) -> int:
    r = run_cli(
        registry.cli("verify-attestation", image, "--key", str(keys.public), "--type", "vuln")
    )
    return r.returncode


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy", "oci-1-1"])
def test_a_copied_image_still_verifies_at_its_new_place(
    ours: Server,
    distribution: Distribution,
    authfile: Path,
    images_root: Path,
    keys: KeyPair,
    tmp_path: Path,
    mode: str,
) -> None:
    root = images_root
    here, there = logged_in(ours, root, authfile), logged_in(distribution, root, authfile)
    digest = here.push("hello:1", "hello:1")
    with here.session() as s:
        signer = password_signer(keys)
        sign_image(s, here.ref("hello:1"), signer, mode=mode)
        attest_image(s, here.ref("hello:1"), signer, {"scanner": {}}, "vuln", mode=mode)

    # ours -> distribution (a referrer goes into the referrers tag schema there)
    copied = ok(
        run_cli(
            here.cli("copy", f"docker://{here.ref('hello:1')}", f"docker://{there.ref('hello:1')}")
        )
    ).stdout.strip()
    assert copied == digest
    code, err = _verify(there, there.ref("hello:1"), keys)
    assert code == 0, err
    assert _verify_attestation(there, there.ref("hello:1"), keys) == 0

    # and back to another repository of ours (the referrers API there)
    ok(
        run_cli(
            there.cli(
                "copy", f"docker://{there.ref('hello:1')}", f"docker://{here.ref('promoted:1')}"
            )
        )
    )
    code, err = _verify(here, here.ref("promoted:1"), keys)
    assert code == 0, err
    assert _verify_attestation(here, here.ref("promoted:1"), keys) == 0

    # copying again over the signatures already there does not double them
    ok(
        run_cli(
            here.cli("copy", f"docker://{here.ref('hello:1')}", f"docker://{there.ref('hello:1')}")
        )
    )
    doc = json.loads(
        ok(
            run_cli(
                there.cli(
                    "verify", there.ref("hello:1"), "--key", str(keys.public), "--format", "json"
                )
            )
        ).stdout
    )
    assert len(doc["signatures"]) == 1  # the same signature, not doubled

    # --remove-signatures leaves them behind
    ok(
        run_cli(
            here.cli(
                "copy",
                "--remove-signatures",
                f"docker://{here.ref('hello:1')}",
                f"docker://{there.ref('bare:1')}",
            )
        )
    )
    r = run_cli(there.cli("verify", there.ref("bare:1"), "--key", str(keys.public)))
    assert r.returncode == 8 and "no signature found" in r.stderr, r.stderr
