"""``build --provenance --sbom --sign --key`` pushes a signed image with signed SLSA
provenance v1 (validated with the in-toto Attestation Framework's own protobuf bindings)
and an SPDX SBOM; secrets stay out of the provenance; the flags are refused before any
work when they cannot be honoured."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

# protobuf and in-toto-attestation ship no type information
from google.protobuf import json_format  # type: ignore[import-untyped]
from in_toto_attestation.predicates.provenance.v1 import (  # type: ignore[import-untyped]
    provenance_pb2,
)
from in_toto_attestation.v1.resource_descriptor import (  # type: ignore[import-untyped]
    ResourceDescriptor,
)

from imageforge.pipeline import Session, find_in_store
from tests.conftest import requires_root, run_cli
from tests.remote.conftest import ok
from tests.sign.conftest import KeyPair, Registry

DOCKERFILE = b"FROM hello:1\nARG GREETING\nARG API_TOKEN\nCOPY msg /msg\n"


def _context(tmp_path: Path) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_bytes(DOCKERFILE)
    (context / "msg").write_text("hello\n")
    return context


@requires_root
@pytest.mark.slow
def test_build_pushes_a_signed_image_with_provenance_and_sbom(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    context = _context(tmp_path)
    ref = registry.ref("built:1")
    r = ok(
        run_cli(
            registry.cli(
                "build",
                str(context),
                "--output",
                f"docker://{ref}",
                "--provenance",
                "--sbom",
                "--sign",
                "--key",
                str(keys.private),
                "--build-arg",
                "GREETING=hi",
                "--build-arg",
                "API_TOKEN=s3cr3t-arg",
                "--secret",
                "id=npm,env=NPM_TOKEN",
                "--format",
                "json",
            ),
            env={**registry.env, "NPM_TOKEN": "s3cr3t-env"},
        )
    )
    digest = json.loads(r.stdout)["digest"]

    verified = json.loads(
        ok(
            run_cli(registry.cli("verify", ref, "--key", str(keys.public), "--format", "json"))
        ).stdout
    )
    assert verified["digest"] == digest
    out = ok(
        run_cli(
            registry.cli(
                "verify-attestation",
                ref,
                "--key",
                str(keys.public),
                "--type",
                "slsaprovenance1",
                "--type",
                "spdx",
                "--format",
                "json",
            )
        )
    ).stdout
    assert "s3cr3t" not in out  # neither the build arg nor the --secret value
    by_type = {a["predicateType"]: a["statement"] for a in json.loads(out)["attestations"]}
    statement = by_type["https://slsa.dev/provenance/v1"]
    assert statement["subject"][0]["digest"] == {"sha256": digest.split(":")[1]}

    predicate = statement["predicate"]
    proto = json_format.Parse(json.dumps(predicate), provenance_pb2.Provenance())  # no stray field
    for dep in proto.build_definition.resolved_dependencies:
        ResourceDescriptor.copy_from_pb(dep).validate()
    assert proto.run_details.metadata.started_on.ToDatetime() <= (
        proto.run_details.metadata.finished_on.ToDatetime()
    )
    definition = predicate["buildDefinition"]
    assert definition["buildType"] == "https://imageforge.dev/buildtypes/dockerfile/v1"
    external = definition["externalParameters"]
    assert external["buildArgs"] == {"GREETING": "hi"}
    assert external["buildArgsLeftOut"] == ["API_TOKEN"] and external["secrets"] == ["npm"]
    deps = {d["name"]: d for d in definition["resolvedDependencies"]}
    assert deps["dockerfile"]["digest"] == {"sha256": hashlib.sha256(DOCKERFILE).hexdigest()}
    assert set(deps["context"]["digest"]) == {"sha256"}
    with Session(registry.root) as s:
        _, base = find_in_store(s.store, "hello:1")
    assert deps["hello:1"]["digest"] == {"sha256": base.hex}
    assert deps["hello:1"]["uri"] == "pkg:docker/hello:1"
    builder = predicate["runDetails"]["builder"]
    assert builder["id"] == "https://imageforge.dev/builder" and "imageforge" in builder["version"]

    sbom = by_type["https://spdx.dev/Document"]["predicate"]
    assert sbom["spdxVersion"] == "SPDX-2.3"


@pytest.mark.slow
def test_provenance_without_key_or_push_is_refused_before_building(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    context = _context(tmp_path)
    ref = f"docker://{registry.ref('built:1')}"
    r = run_cli(registry.cli("build", str(context), "--output", ref, "--provenance"))
    assert r.returncode == 2 and "need --key" in r.stderr, r.stderr
    r = run_cli(
        registry.cli(
            "build",
            str(context),
            "--output",
            f"oci:{tmp_path / 'layout'}",
            "--sign",
            "--key",
            str(keys.private),
        ),
        env=registry.env,
    )
    assert r.returncode == 2 and "add -t NAME" in r.stderr, r.stderr
    r = run_cli(registry.cli("build", str(context), "--output", ref, "--key", str(keys.private)))
    assert r.returncode == 2 and "--key is for --provenance" in r.stderr, r.stderr
    with Session(registry.root) as s:
        assert len(s.store.refs.all()) == 2  # nothing was built: hello:1 and hello:2
