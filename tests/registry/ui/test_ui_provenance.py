"""The provenance page of an artifact against a real registry: the SLSA provenance
``imageforge attest`` attached, its builder, materials and build arguments (HTML in
them shown as text), the steps from the image config, and whether a key of the
project verifies it (the verifier ``registry serve`` injects)."""

from __future__ import annotations

import base64
import json

from markupsafe import escape

from imageforge.registry.ui._provenance import parse_provenance
from imageforge.registry.ui._views import statement_of
from tests.registry.ui.conftest import (
    BASE_HEX,
    HOSTILE_LABEL,
    PASSWORD,
    UiRegistry,
    logged_in,
    provenance,
)


def test_the_provenance_shows_the_build_and_is_verified_with_the_project_s_key(
    ui_registry: UiRegistry,
) -> None:
    params = {"repo": "team/app", "digest": str(ui_registry.image)}
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:  # a guest may read it
        artifact = c.get("/ui/artifact", params=params).text
        assert 'id="provenance-link" href="/ui/provenance?repo=team/app&amp;digest=' in artifact
        page = c.get("/ui/provenance", params=params)
    assert page.status_code == 200, page.text
    text = page.text
    assert "Verified: an attestation of this provenance is signed by a key of project team" in text
    assert "https://slsa.dev/provenance/v1" in text
    assert f"<dd>tag sha256-{ui_registry.image.hex}.att</dd>" in text
    assert "https://imageforge.dev/builder (imageforge 1.0)" in text
    assert (
        f"<td>alpine:3.20</td><td><code>pkg:docker/alpine:3.20</code></td><td><code>sha256:{BASE_HEX}</code></td>"
        in text
    )
    assert "<td>VERSION</td><td><code>4.17.11</code></td>" in text
    assert "<script>document.title" not in text  # the hostile build argument is text
    assert str(escape(HOSTILE_LABEL)) in text
    steps = text.split('id="steps"', 1)[1]  # the image config's history
    assert '<li><code class="instr">imageforge import rootfs:' in steps


def test_a_provenance_signed_by_another_key_is_shown_as_not_verified(
    ui_registry: UiRegistry,
) -> None:
    params = {"repo": "team/app", "digest": str(ui_registry.hostile)}
    with logged_in(ui_registry.url, "viewer", PASSWORD) as c:
        text = c.get("/ui/provenance", params=params).text
    assert "Not verified:" in text and "alpine:3.19" in text
    with logged_in(ui_registry.url, "outsider", PASSWORD) as c:  # a private project's
        assert c.get("/ui/provenance", params=params).status_code == 404


def _envelope(statement: object) -> dict[str, str]:
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return {"payloadType": "application/vnd.in-toto+json", "payload": payload, "signatures": ""}


def test_slsa_v1_and_v0_2_are_read_and_anything_else_is_not() -> None:
    v1 = statement_of(
        _envelope(
            {
                "predicateType": "https://slsa.dev/provenance/v1",
                "predicate": provenance("debian:12", "x"),
            }
        )
    )
    got = parse_provenance(v1, "referrer")
    assert got is not None and got.builder == "https://imageforge.dev/builder"
    assert got.build_args == {"NOTE": "x", "VERSION": "4.17.11"}
    assert got.parameters["platforms"] == '["linux/amd64"]'
    v02 = {
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "predicate": {
            "builder": {"id": "https://github.com/actions"},
            "buildType": "https://mobyproject.org/buildkit@v1",
            "invocation": {"parameters": {"frontend": "dockerfile.v0", "build-args": {"A": "1"}}},
            "materials": [{"uri": "pkg:docker/alpine@3.20", "digest": {"sha256": "00" * 32}}],
            "metadata": {"buildStartedOn": "2026-01-01T00:00:00Z"},
        },
    }
    old = parse_provenance(v02, "tag")
    assert old is not None and old.builder == "https://github.com/actions"
    assert old.build_args == {"A": "1"} and old.parameters == {"frontend": "dockerfile.v0"}
    assert [m.digest for m in old.materials] == ["sha256:" + "00" * 32]
    # an SBOM, a statement whose predicate is no object, and a broken envelope are no provenance
    assert (
        parse_provenance({"predicateType": "https://spdx.dev/Document", "predicate": {}}, "")
        is None
    )
    assert (
        parse_provenance({"predicateType": "https://slsa.dev/provenance/v1", "predicate": []}, "")
        is None
    )
    assert statement_of({"payloadType": "x", "payload": "not base64!"}) is None
