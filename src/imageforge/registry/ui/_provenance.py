"""The provenance page of an artifact: the SLSA provenance attestations attached to it
(``build --provenance``, ``imageforge attest --type slsaprovenance1``, ``cosign attest``;
SLSA v1 and v0.2), read from the stored DSSE envelopes, and whether the project's
public keys verify one, asked of the signature verifier ``registry serve`` injects (the
UI holds no cryptography). The build's steps come from the image config's history, as
on the layers tab: the provenance names the Dockerfile by digest, not its text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from imageforge.oci import Digest, Manifest
from imageforge.registry._names import project_of
from imageforge.registry.service import RegistryState, stored_manifest
from imageforge.registry.ui._views import ArtifactView, Attached, read_document, statement_of

__all__ = [
    "SLSA_PREFIX",
    "Material",
    "Provenance",
    "ProvenanceView",
    "build_steps",
    "parse_provenance",
    "provenance_view",
]

SLSA_PREFIX = "https://slsa.dev/provenance/"


@dataclass(frozen=True)
class Material:
    """A resolved dependency (SLSA v1) or material (v0.2): a base image, the
    Dockerfile, the context."""

    name: str
    uri: str
    digest: str  # algorithm:hex, or "" when the document gives none


@dataclass
class Provenance:
    predicate_type: str
    where: str  # the attached object it was read from
    builder: str = ""
    builder_version: str = ""
    build_type: str = ""
    started: str = ""
    finished: str = ""
    materials: list[Material] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)  # the other external ones
    internal: dict[str, str] = field(default_factory=dict)


@dataclass
class ProvenanceView:
    found: list[Provenance]
    verdict: str  # "verified", "unverified" or "unchecked"
    reason: str  # why not verified or not checked; "" when verified


def _text(value: Any) -> str:
    """A document's value as text (a structure as compact JSON)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


def _digest(value: Any) -> str:
    if not isinstance(value, dict) or not value:
        return ""
    algorithm = "sha256" if "sha256" in value else sorted(value)[0]
    return f"{algorithm}:{value[algorithm]}"


def _mapping(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): _text(v) for k, v in sorted(value.items())}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _materials(items: Any, name_key: str | None) -> list[Material]:
    return [
        Material(
            _text(m.get(name_key, "")) if name_key else "",
            _text(m.get("uri", "")),
            _digest(m.get("digest")),
        )
        for m in (items if isinstance(items, list) else [])
        if isinstance(m, dict)
    ]


def parse_provenance(statement: dict[str, Any], where: str) -> Provenance | None:
    """The fields of a SLSA provenance statement (v1 or v0.2; None if it is neither)."""
    kind = str(statement.get("predicateType", ""))
    predicate = statement.get("predicate")
    if not kind.startswith(SLSA_PREFIX) or not isinstance(predicate, dict):
        return None
    out = Provenance(kind, where)
    if "buildDefinition" in predicate:  # SLSA v1
        definition = _obj(predicate["buildDefinition"])
        run = _obj(predicate.get("runDetails"))
        builder, meta = _obj(run.get("builder")), _obj(run.get("metadata"))
        external = _obj(definition.get("externalParameters"))
        out.build_type = _text(definition.get("buildType", ""))
        out.build_args = _mapping(external.get("buildArgs"))
        out.parameters = {k: v for k, v in _mapping(external).items() if k != "buildArgs"}
        out.internal = _mapping(definition.get("internalParameters"))
        out.builder = _text(builder.get("id", ""))
        versions = _mapping(builder.get("version"))
        out.builder_version = ", ".join(f"{k} {v}" for k, v in versions.items())
        out.started = _text(meta.get("startedOn", ""))
        out.finished = _text(meta.get("finishedOn", ""))
        out.materials = _materials(definition.get("resolvedDependencies"), "name")
        return out
    # SLSA v0.2
    invocation, meta = _obj(predicate.get("invocation")), _obj(predicate.get("metadata"))
    parameters = _obj(invocation.get("parameters"))
    args_key = "build-args" if "build-args" in parameters else "buildArgs"
    out.builder = _text(_obj(predicate.get("builder")).get("id", ""))
    out.build_type = _text(predicate.get("buildType", ""))
    out.build_args = _mapping(parameters.get(args_key))
    out.parameters = {k: v for k, v in _mapping(parameters).items() if k != args_key}
    out.internal = _mapping(invocation.get("environment"))
    out.started = _text(meta.get("buildStartedOn", ""))
    out.finished = _text(meta.get("buildFinishedOn", ""))
    out.materials = _materials(predicate.get("materials"), None)
    return out


def build_steps(config: dict[str, Any]) -> list[tuple[str, bool]]:
    """The image config's history in order: each step's ``created_by`` and whether it
    made no layer."""
    history = config.get("history")
    return [
        (_text(h.get("created_by", "")), bool(h.get("empty_layer")))
        for h in (history if isinstance(history, list) else [])
        if isinstance(h, dict)
    ]


def _found(state: RegistryState, attached: list[Attached]) -> list[Provenance]:
    out = []
    for a in attached:
        if a.kind != "attestation":
            continue
        parsed = stored_manifest(state.storage, Digest(a.digest))
        if not isinstance(parsed, Manifest):
            continue
        for layer in parsed.layers:
            statement = statement_of(read_document(state, layer.digest))
            if not isinstance(statement, dict):
                continue
            found = parse_provenance(statement, a.how)
            if found is not None:
                out.append(found)
    return out


def provenance_view(state: RegistryState, by: str | None, view: ArtifactView) -> ProvenanceView:
    """The provenance attached to the artifact of ``view`` (which ``by`` may read) and
    whether a key of its project's signature policy verifies it."""
    found = _found(state, view.attached)
    if not found:
        return ProvenanceView([], "unchecked", "no provenance is attached")
    verifier = state.verifier
    if verifier is None:
        return ProvenanceView(found, "unchecked", "this registry has no signature verifier")
    keys = state.policies.policy(by, project_of(view.repo))["keys"]
    if not keys:
        return ProvenanceView(
            found,
            "unchecked",
            "the project lists no public keys to verify with"
            " (registry project policy --key cosign.pub)",
        )
    reasons = []
    for kind in sorted({p.predicate_type for p in found}):
        why = verifier.attested(view.repo, Digest(view.digest), keys, kind)
        if why is None:
            return ProvenanceView(found, "verified", "")
        reasons.append(why)
    return ProvenanceView(found, "unverified", "; ".join(reasons))
