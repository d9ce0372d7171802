"""``attest`` and ``verify-attestation`` end to end, against imageforge's registry and
distribution 2.8: what is stored is an in-toto Statement v1 that the in-toto
Attestation Framework's own bindings validate, in a DSSE envelope that securesystemslib
verifies; a policy decides what the predicates must say; a changed, copied or
mistyped attestation fails with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# protobuf and in-toto-attestation ship no type information
from google.protobuf import json_format  # type: ignore[import-untyped]
from in_toto_attestation.v1 import statement_pb2  # type: ignore[import-untyped]
from in_toto_attestation.v1.statement import (  # type: ignore[import-untyped]
    Statement as ItStatement,
)
from securesystemslib.dsse import Envelope as SslibEnvelope

# securesystemslib re-exports it without __all__ (mypy --strict needs the ignore)
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]

from imageforge.oci import Reference
from imageforge.pipeline import attest_image, key_signer, key_verifier, verify_attestations
from imageforge.pipeline._sign_repos import RegistryRepository
from imageforge.pipeline._sign_store import ATTESTATIONS, attach, find_attached, resolve_target
from imageforge.sign import (
    IN_TOTO_PAYLOAD_TYPE,
    Statement,
    Subject,
    VerificationFailed,
    attestation_layer,
    load_public_key,
    predicate_type,
    sign_envelope,
)
from tests.conftest import run_cli
from tests.remote.conftest import ok
from tests.sign.conftest import PASSWORD, KeyPair, Registry

VULN_CLEAN = {
    "scanner": {
        "uri": "imageforge",
        "result": {"Results": [{"Vulnerabilities": [{"Severity": "LOW"}]}]},
    }
}
VULN_CRITICAL = {
    "scanner": {
        "uri": "imageforge",
        "result": {
            "Results": [{"Vulnerabilities": [{"Severity": "LOW"}, {"Severity": "CRITICAL"}]}]
        },
    }
}
PROVENANCE = {
    "buildDefinition": {
        "buildType": "https://imageforge.dev/build/v1",
        "externalParameters": {"source": "https://git.example.com/app.git"},
    },
    "runDetails": {"builder": {"id": "https://imageforge.dev/builder"}},
}
POLICY = """
[[attestation]]
type = "vuln"
[[attestation.condition]]
path = "scanner.result.Results[].Vulnerabilities[].Severity"
none_of = ["CRITICAL"]
message = "no CRITICAL vulnerability"

[[attestation]]
type = "slsaprovenance1"
[[attestation.condition]]
path = "buildDefinition.externalParameters.source"
equals = "https://git.example.com/app.git"
"""


def _password() -> bytes:
    return PASSWORD.encode()


def _write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc))
    return path


def _attest(
    registry: Registry, keys: KeyPair, predicate: Path, kind: str, *extra: str
) -> dict[str, str]:
    r = ok(
        run_cli(
            registry.cli(
                "attest",
                registry.ref("hello:1"),
                "--predicate",
                str(predicate),
                "--type",
                kind,
                "--key",
                str(keys.private),
                "--format",
                "json",
                *extra,
            ),
            env=registry.env,
        )
    )
    doc: dict[str, str] = json.loads(r.stdout)
    return doc


def _verify(registry: Registry, keys: KeyPair, *extra: str) -> tuple[int, dict[str, object], str]:
    r = run_cli(
        registry.cli(
            "verify-attestation",
            registry.ref("hello:1"),
            "--key",
            str(keys.public),
            "--format",
            "json",
            *extra,
        )
    )
    return r.returncode, json.loads(r.stdout) if r.stdout.strip() else {}, r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["legacy", "oci-1-1"])
def test_attest_verify_and_policy(
    registry: Registry, keys: KeyPair, tmp_path: Path, mode: str
) -> None:
    digest = registry.push("hello:1", "hello:1")
    vuln = _write(tmp_path / "vuln.json", VULN_CLEAN)
    provenance = _write(tmp_path / "provenance.json", PROVENANCE)
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    mode_flag = ("--registry-referrers-mode", mode)
    assert _attest(registry, keys, vuln, "vuln", *mode_flag)["digest"] == digest
    _attest(registry, keys, provenance, "slsaprovenance1", *mode_flag)

    code, out, err = _verify(registry, keys, "--type", "vuln")
    assert code == 0, err
    atts = out["attestations"]
    assert isinstance(atts, list)
    [att] = atts
    assert att["layout"] == mode and att["predicateType"] == predicate_type("vuln")
    assert att["statement"]["predicate"] == VULN_CLEAN
    code, out, err = _verify(registry, keys, "--policy", str(policy))
    assert code == 0, err
    assert len(out["attestations"]) == 2  # type: ignore[arg-type]

    # what is stored is checked by independent implementations
    with registry.session() as s:
        target = resolve_target(
            RegistryRepository(s.client, Reference.parse(registry.ref("hello:1")))
        )
        found = find_attached(target, ATTESTATIONS)
    assert len(found.attached) == 2 and not found.problems
    # cosign writes an empty keyid, which securesystemslib matches keys by
    theirs = SSlibKey.from_crypto(load_public_key(keys.public.read_bytes()).key)
    sslib_key = SSlibKey("", theirs.keytype, "ecdsa-sha2-nistp256", theirs.keyval)
    for attached in found.attached:
        envelope = SslibEnvelope.from_dict(json.loads(attached.layer.payload))
        assert envelope.payload_type == IN_TOTO_PAYLOAD_TYPE
        envelope.verify([sslib_key], 1)  # raises if no signature verifies
        proto = json_format.Parse(envelope.payload, statement_pb2.Statement())
        ItStatement.copy_from_pb(proto).validate()
        assert dict(proto.subject[0].digest) == {"sha256": digest.split(":")[1]}
        assert proto.subject[0].name == registry.ref("hello")

    # a new scan finds a CRITICAL: the policy fails, though the old clean scan is there
    critical = _write(tmp_path / "critical.json", VULN_CRITICAL)
    _attest(registry, keys, critical, "vuln", *mode_flag)
    code, out, err = _verify(registry, keys, "--policy", str(policy))
    assert code == 8 and out["reason"] == "policy-violation", err
    assert "no CRITICAL vulnerability" in err and "'CRITICAL'" in err
    # a type that was never attested
    code, out, err = _verify(registry, keys, "--type", "spdx")
    assert code == 8 and out["reason"] == "no-signature", err
    assert "no https://spdx.dev/Document attestation found" in err


@pytest.mark.slow
def test_provenance_from_another_repository_fails_the_policy(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    registry.push("hello:1", "hello:1")
    elsewhere = json.loads(json.dumps(PROVENANCE))
    elsewhere["buildDefinition"]["externalParameters"]["source"] = "https://evil.example/app.git"
    with registry.session() as s:
        signer = key_signer(keys.private, lambda _: _password())
        attest_image(s, registry.ref("hello:1"), signer, elsewhere, "slsaprovenance1")
        attest_image(s, registry.ref("hello:1"), signer, VULN_CLEAN, "vuln")
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    code, out, err = _verify(registry, keys, "--policy", str(policy))
    assert code == 8 and out["reason"] == "policy-violation", err
    assert "buildDefinition.externalParameters.source equals" in err
    assert "'https://evil.example/app.git'" in err


@pytest.mark.slow
def test_copied_mistyped_or_foreign_attestations_are_refused(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    other = registry.push("hello:2", "hello:1")
    with registry.session() as s:
        signer = key_signer(keys.private, lambda _: _password())
        attest_image(s, registry.ref("hello:1"), signer, VULN_CLEAN, "vuln")
    registry.push("hello:1", "hello:1")  # the tag moves away from the attested image
    # the attestation of another image, copied onto this one
    with registry.session() as s:
        target = resolve_target(
            RegistryRepository(s.client, Reference.parse(registry.ref("hello:1")))
        )
        ptype = predicate_type("vuln")
        statement = Statement((Subject.for_image("x", other),), ptype, VULN_CLEAN)
        envelope = sign_envelope(signer, IN_TOTO_PAYLOAD_TYPE, statement.to_bytes())
        attach(target, attestation_layer(envelope, ptype), ATTESTATIONS, "legacy")
        with pytest.raises(VerificationFailed) as failed:
            verify_attestations(
                s, registry.ref("hello:1"), key_verifier(keys.public), kinds=["vuln"]
            )
    assert failed.value.reason == "wrong-digest"
    assert f"subjects do not include {target.digest}" in failed.value.message

    # an envelope of another payload type, signed properly: refused for its type
    with registry.session() as s:
        target = resolve_target(
            RegistryRepository(s.client, Reference.parse(registry.ref("hello:1")))
        )
        envelope = sign_envelope(signer, "text/plain", statement.to_bytes())
        attach(target, attestation_layer(envelope, ptype), ATTESTATIONS, "oci-1-1")
    code, out, err = _verify(registry, keys, "--type", "vuln")
    assert code == 8 and out["reason"] == "wrong-digest", err  # the furthest check reached
    assert "(2 https://cosign.sigstore.dev/attestation/vuln/v1 attestations found" in err


@pytest.mark.slow
def test_wrong_payload_type_alone_is_named(registry: Registry, keys: KeyPair) -> None:
    registry.push("hello:1", "hello:1")
    with registry.session() as s:
        signer = key_signer(keys.private, lambda _: _password())
        target = resolve_target(
            RegistryRepository(s.client, Reference.parse(registry.ref("hello:1")))
        )
        ptype = predicate_type("vuln")
        statement = Statement((Subject.for_image("x", target.digest),), ptype, VULN_CLEAN)
        envelope = sign_envelope(signer, "application/json", statement.to_bytes())
        attach(target, attestation_layer(envelope, ptype), ATTESTATIONS, "legacy")
    code, out, err = _verify(registry, keys, "--type", "vuln")
    assert code == 8 and out["reason"] == "wrong-payload-type", err
    assert "payloadType is 'application/json'" in err


@pytest.mark.slow
def test_bad_predicate_or_policy_is_clear_and_stores_nothing(
    registry: Registry, keys: KeyPair, tmp_path: Path
) -> None:
    registry.push("hello:1", "hello:1")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    r = run_cli(
        registry.cli(
            "attest",
            registry.ref("hello:1"),
            "--predicate",
            str(garbage),
            "--type",
            "vuln",
            "--key",
            str(keys.private),
        ),
        env=registry.env,
    )
    assert r.returncode == 2 and "the predicate is not JSON" in r.stderr, r.stderr
    r = run_cli(
        registry.cli(
            "attest",
            registry.ref("hello:1"),
            "--predicate",
            str(_write(tmp_path / "v.json", VULN_CLEAN)),
            "--type",
            "nonsense",
            "--key",
            str(keys.private),
        ),
        env=registry.env,
    )
    assert r.returncode == 2 and "unknown predicate type 'nonsense'" in r.stderr, r.stderr
    with registry.session() as s:
        ref = Reference.parse(registry.ref("hello"))
        assert s.client.list_tags(registry.host, ref.path) == ["1"]

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[attestation]]\ntype = "vuln"\n[[attestation.condition]]\npath = "a[["\nexists = true\n'
    )
    code, _, err = _verify(registry, keys, "--policy", str(bad))
    assert code == 2 and f"{bad}: attestation[0].condition[0]: path 'a[['" in err, err
