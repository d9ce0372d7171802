"""A pull to an ``oci:`` layout carries what the registry keeps for the image, from
each place it can keep it: cosign's ``.sig`` and ``.att`` tags, and a referrer (the
referrers API on imageforge's registry, the referrers tag schema on distribution 2.8).
Before loading the signing code a pull asks the registry whether anything is there, so
the pull of an image nothing is attached to loads none of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from imageforge.pipeline import attest_image, sign_image
from imageforge.sign import ATTESTATION_ARTIFACT_TYPE, SIGNATURE_ARTIFACT_TYPE
from tests.conftest import run_cli
from tests.remote.conftest import ok
from tests.sign.conftest import KeyPair, Registry, password_signer


def _artifacts(layout: Path) -> list[str]:
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    return sorted(e["artifactType"] for e in entries if "artifactType" in e)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("what", "mode"),
    [("signature", "legacy"), ("attestation", "legacy"), ("signature", "oci-1-1")],
)
def test_a_pull_to_a_layout_carries_what_is_attached_wherever_it_is_kept(
    registry: Registry, keys: KeyPair, tmp_path: Path, what: str, mode: str
) -> None:
    registry.push("hello:1", "hello:1")
    with registry.session() as s:
        signer = password_signer(keys)
        if what == "signature":
            sign_image(s, registry.ref("hello:1"), signer, mode=mode)
        else:
            attest_image(s, registry.ref("hello:1"), signer, {"scanner": {}}, "vuln", mode=mode)
    layout = tmp_path / "layout"
    ok(run_cli(registry.cli("copy", f"docker://{registry.ref('hello:1')}", f"oci:{layout}:1")))
    wanted = SIGNATURE_ARTIFACT_TYPE if what == "signature" else ATTESTATION_ARTIFACT_TYPE
    assert _artifacts(layout) == [wanted]


PROBE = """
import atexit, runpy, sys
atexit.register(lambda: print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ["imageforge", *sys.argv[1:]]
runpy.run_module("imageforge", run_name="__main__")
"""

# What a pull of an image nothing is attached to has no use for: the signing stack, and
# httpx's command-line client (rich's tables and progress bars, pygments).
NOT_FOR_AN_UNSIGNED_PULL = ("imageforge.sign", "cryptography", "nacl", "httpx._main", "pygments")


@pytest.mark.slow
def test_a_pull_of_an_unsigned_image_to_a_layout_loads_no_signing(
    registry: Registry, tmp_path: Path
) -> None:
    digest = registry.push("hello:1", "hello:1")
    layout = tmp_path / "layout"
    args = registry.cli("copy", f"docker://{registry.ref('hello:1')}", f"oci:{layout}:1")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == digest
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    modules = set(line.split()[1:])
    assert "httpx" in modules  # the pull went through the registry client
    assert [m for m in NOT_FOR_AN_UNSIGNED_PULL if m in modules] == []
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    assert [e["digest"] for e in entries] == [digest]
