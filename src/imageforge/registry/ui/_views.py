"""What the UI's pages show, read through the registry's services (which decide who may
see what) and from what the registry stores: manifests, image configs, scan results,
attached objects. Nothing here analyses an image: a layer's instruction comes from the
stored config's history, an SBOM from an attached SBOM document or attestation, the
vulnerabilities from the stored scan result."""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import NotFound
from imageforge.oci import Digest, IndexManifest, Manifest, rfc3339
from imageforge.registry._names import project_of
from imageforge.registry.auth import Access
from imageforge.registry.meta import ManifestRow
from imageforge.registry.retention import RetentionStore
from imageforge.registry.scanning import is_image
from imageforge.registry.service import RegistryState, stored_config, stored_manifest

__all__ = [
    "ArtifactView",
    "Attached",
    "Layer",
    "Package",
    "RepoArtifact",
    "artifact_view",
    "read_document",
    "statement_of",
    "repository_artifacts",
    "when",
]

_MAX_DOC = 16 << 20  # bytes of an attached document read for its packages


def when(epoch: float | None) -> str:
    return rfc3339(epoch) if epoch else ""


@dataclass(frozen=True)
class RepoArtifact:
    digest: str
    tags: list[tuple[str, bool]]  # (tag, immutable)
    size: int  # the manifest, its config and layers (an index: itself)
    kind: str  # image, index or the artifact type
    platforms: list[str]
    pushed: str
    pulled: str


@dataclass(frozen=True)
class Layer:
    digest: str
    size: int
    media_type: str
    created_by: str


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    purl: str
    description: str


@dataclass(frozen=True)
class Attached:
    kind: str  # signature, attestation, sbom, artifact
    how: str  # a referrer or the cosign tag it is kept under
    digest: str
    artifact_type: str
    annotations: dict[str, str]


@dataclass
class ArtifactView:
    repo: str
    digest: str
    row: ManifestRow
    tags: list[str]
    platforms: list[str] = field(default_factory=list)
    children: list[tuple[str, str]] = field(default_factory=list)  # (digest, platform)
    layers: list[Layer] = field(default_factory=list)
    history: list[str] = field(default_factory=list)  # created_by of empty layers
    labels: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    scan: dict[str, Any] = field(default_factory=dict)
    allowlisted: set[str] = field(default_factory=set)
    attached: list[Attached] = field(default_factory=list)
    packages: list[Package] = field(default_factory=list)
    sbom_source: str = ""
    may_delete: bool = False
    may_scan: bool = False


def _platform(doc: dict[str, Any] | None) -> str:
    if not doc:
        return ""
    parts = [str(doc.get("os", "")), str(doc.get("architecture", ""))]
    if doc.get("variant"):
        parts.append(str(doc["variant"]))
    return "/".join(p for p in parts if p)


def _size(row: ManifestRow, parsed: Manifest | IndexManifest | None) -> int:
    if isinstance(parsed, Manifest):
        return row.size + parsed.config.size + sum(d.size for d in parsed.layers)
    return row.size


def repository_artifacts(state: RegistryState, by: str | None, repo: str) -> list[RepoArtifact]:
    """The artifacts of ``repo`` (NotFound unless ``by`` may pull from it), newest first,
    with their tags, sizes, platforms and push and last pull times; those attached to
    another (a subject's referrers) are shown on their subject's page instead."""
    rows = state.manage.manifests(by, repo)
    patterns = state.meta.immutable(project_of(repo))
    pulls = RetentionStore(state.meta).pull_times(project_of(repo))
    out = []
    for row, created, tags in reversed(rows):
        if row.subject is not None:  # attached to another: listed on that one's page
            continue
        parsed = stored_manifest(state.storage, row.digest)
        platforms: list[str] = []
        if isinstance(parsed, IndexManifest):
            kind = "index"
            platforms = [
                _platform(d.platform.to_json()) for d in parsed.manifests if d.platform is not None
            ]
        elif is_image(parsed):
            assert isinstance(parsed, Manifest)
            kind = "image"
            config = stored_config(state.storage, parsed.config.digest)
            platforms = [p for p in [_platform(config)] if p]
        elif isinstance(parsed, Manifest):
            kind = parsed.artifact_type or parsed.config.media_type
        else:
            kind = row.media_type
        out.append(
            RepoArtifact(
                str(row.digest),
                # the immutable tag rule (ImmutableTags): a glob on the tag, case-sensitive
                [(t, any(fnmatch.fnmatchcase(t, p) for p in patterns)) for t in tags],
                _size(row, parsed),
                kind,
                platforms,
                when(created),
                when(pulls.get((repo, str(row.digest)))),
            )
        )
    return out


def _layers(config: dict[str, Any], manifest: Manifest) -> tuple[list[Layer], list[str]]:
    """Each layer with the history entry that made it (history entries marked
    ``empty_layer`` made none: they are returned apart)."""
    history = config.get("history")
    entries = history if isinstance(history, list) else []
    made: list[str] = []
    empty: list[str] = []
    for h in entries:
        if not isinstance(h, dict):
            continue
        text = str(h.get("created_by", ""))
        (empty if h.get("empty_layer") else made).append(text)
    layers = [
        Layer(str(d.digest), d.size, d.media_type, made[i] if i < len(made) else "")
        for i, d in enumerate(manifest.layers)
    ]
    return layers, empty


def _cosign_tags(repo_tags: list[str], digest: Digest) -> dict[str, str]:
    base = f"{digest.algorithm}-{digest.hex}"
    kinds = {".sig": "signature", ".att": "attestation", ".sbom": "sbom"}
    return {
        t: kinds[t[len(base) :]]
        for t in repo_tags
        if t[len(base) :] in kinds and t.startswith(base)
    }


def _kind(artifact_type: str) -> str:
    at = artifact_type.lower()
    if "signature" in at:
        return "signature"
    if "spdx" in at or "cyclonedx" in at or "sbom" in at:
        return "sbom"
    if "in-toto" in at or "dsse" in at or "attestation" in at:
        return "attestation"
    return "artifact"


def _attached(state: RegistryState, repo: str, digest: Digest) -> list[Attached]:
    out = []
    for r in state.meta.referrers(repo, digest):
        parsed = stored_manifest(state.storage, r.digest)
        annotations = {} if parsed is None else dict(parsed.annotations)
        at = r.artifact_type or ""
        out.append(Attached(_kind(at), "referrer", str(r.digest), at, annotations))
    for tag, kind in sorted(
        _cosign_tags([t for t, _d in state.meta.tag_list(repo)], digest).items()
    ):
        target = state.meta.resolve_tag(repo, tag)
        if target is None:
            continue
        parsed = stored_manifest(state.storage, target)
        annotations = {}
        if isinstance(parsed, Manifest):
            for layer in parsed.layers:
                annotations.update(layer.annotations)
        out.append(Attached(kind, f"tag {tag}", str(target), "", annotations))
    return out


def read_document(state: RegistryState, digest: Digest) -> Any:
    """A stored JSON document (None if absent, too large or not JSON)."""
    try:
        with state.storage.open(digest) as f:
            raw = f.read(_MAX_DOC + 1)
    except NotFound:
        return None
    if len(raw) > _MAX_DOC:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def statement_of(doc: Any) -> Any:
    """The payload of a DSSE envelope (an in-toto statement), None if it cannot be
    decoded; ``doc`` itself if it is no envelope."""
    if isinstance(doc, dict) and "payload" in doc and "payloadType" in doc:
        try:
            return json.loads(base64.b64decode(str(doc["payload"]), validate=True))
        except (binascii.Error, ValueError):
            return None
    return doc


def _unwrap(doc: Any) -> Any:
    """The SBOM inside a DSSE envelope's in-toto statement, or ``doc`` itself."""
    doc = statement_of(doc)
    if isinstance(doc, dict) and "predicate" in doc and "predicateType" in doc:
        return doc["predicate"]
    return doc


def _packages(doc: Any) -> list[Package] | None:
    """The packages of an SPDX or CycloneDX JSON document; None if it is neither."""
    if not isinstance(doc, dict):
        return None
    if "spdxVersion" in doc:
        out = []
        for p in doc.get("packages") or []:
            if not isinstance(p, dict):
                continue
            purl = next(
                (
                    str(r.get("referenceLocator", ""))
                    for r in p.get("externalRefs") or []
                    if isinstance(r, dict) and r.get("referenceType") == "purl"
                ),
                "",
            )
            desc = str(p.get("description") or p.get("summary") or "")
            out.append(Package(str(p.get("name", "")), str(p.get("versionInfo", "")), purl, desc))
        return out
    if doc.get("bomFormat") == "CycloneDX":
        return [
            Package(
                str(c.get("name", "")),
                str(c.get("version", "")),
                str(c.get("purl", "")),
                str(c.get("description", "")),
            )
            for c in doc.get("components") or []
            if isinstance(c, dict)
        ]
    return None


def _sbom(state: RegistryState, attached: list[Attached]) -> tuple[list[Package], str]:
    """The packages of the first attached SBOM (a document or an attestation of one)."""
    for a in attached:
        if a.kind not in ("sbom", "attestation"):
            continue
        parsed = stored_manifest(state.storage, Digest(a.digest))
        if not isinstance(parsed, Manifest):
            continue
        for layer in parsed.layers:
            found = _packages(_unwrap(read_document(state, layer.digest)))
            if found is not None:
                return found, f"{a.kind} {a.digest} ({a.how})"
    return [], ""


def artifact_view(state: RegistryState, by: str | None, repo: str, digest: Digest) -> ArtifactView:
    """Everything the artifact page shows (NotFound unless ``by`` may pull from
    ``repo``)."""
    scan = state.policies.result(by, repo, digest)  # checks that ``by`` may read it
    row = state.meta.manifest(repo, digest)
    if row is None:
        raise NotFound(f"manifest {repo}@{digest} is not known")
    view = ArtifactView(repo, str(digest), row, state.meta.tags_of(repo, digest), scan=scan)
    parsed = stored_manifest(state.storage, digest)
    if isinstance(parsed, IndexManifest):
        view.children = [
            (str(d.digest), _platform(d.platform.to_json()) if d.platform else "")
            for d in parsed.manifests
        ]
        view.platforms = [p for _d, p in view.children if p]
    elif isinstance(parsed, Manifest):
        config = stored_config(state.storage, parsed.config.digest) or {}
        view.config = config
        view.platforms = [p for p in [_platform(config)] if p]
        view.layers, view.history = _layers(config, parsed)
        settings = config.get("config")
        labels = settings.get("Labels") if isinstance(settings, dict) else None
        if isinstance(labels, dict):
            view.labels = {str(k): str(v) for k, v in labels.items()}
    project = project_of(repo)
    for scope in (project, None):
        for item in state.policies.allowlist(by, scope)["items"]:
            if item["active"]:
                view.allowlisted.add(str(item["cve"]))
    view.attached = _attached(state, repo, digest)
    view.packages, view.sbom_source = _sbom(state, view.attached)
    view.may_delete = state.access.allows(by, Access("repository", repo, frozenset({"delete"})))
    view.may_scan = state.access.allows(by, Access("repository", repo, frozenset({"push"})))
    return view
