"""A build that signs and attests what it pushes, as ``docker buildx build --provenance
--sbom --push`` attaches provenance and an SBOM (here signed, in cosign's layouts).

``build --provenance`` writes SLSA provenance v1: the build type, the external
parameters (Dockerfile, target, platforms, build args with any that look like
secrets left out; ``--secret`` values never appear), every base image resolved by
digest, the Dockerfile's and the context's digests as resolved dependencies, the
builder's id and version, start and finish times. ``build --sbom`` attests the built
image's SPDX document. ``--sign`` signs the image. Each goes to every
``docker://`` output the build pushed, by the digest it pushed, and into the store
beside the names the build gave it (``-t``), so a later ``push`` carries them.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from imageforge import __version__
from imageforge.builder import BuildOptions
from imageforge.dockerfile import EntryType, walk_context
from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, Image, Reference, rfc3339
from imageforge.pipeline._base import FromResolver
from imageforge.pipeline._build import Built, build
from imageforge.pipeline._build_cache import CacheLocation
from imageforge.pipeline._location import DOCKER, Location, parse_location
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign_modes import LEGACY

if TYPE_CHECKING:  # imported when a build attaches something: an unsigned build,
    # the usual one, starts without the signing stack and the SBOM's catalogers
    from imageforge.pipeline._sign import Signed
    from imageforge.sign import Signer
from imageforge.transports import TRANSPORTS, TransportRef

__all__ = [
    "BUILDER_ID",
    "BUILD_TYPE",
    "Attest",
    "SignedBuild",
    "context_digest",
    "provenance_predicate",
    "signed_build",
]

BUILD_TYPE: Final = "https://imageforge.dev/buildtypes/dockerfile/v1"
BUILDER_ID: Final = "https://imageforge.dev/builder"
# Build args whose names say they hold a secret are left out of the provenance (the
# names BuildKit's SecretsUsedInArgOrEnv check flags).
_SECRET_NAME: Final = re.compile(
    r"(?i)(passw(or)?d|secret|token|api_?key|private_?key|credential|auth)"
)


class _RecordingResolver(FromResolver):
    """The build's ``FROM`` resolver, remembering each base by digest."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.resolved: dict[str, Digest] = {}
        self._lock = threading.Lock()

    def __call__(self, name: str, platform: str | None) -> Image:
        image = super().__call__(name, platform)
        with self._lock:
            self.resolved.setdefault(f"{name} ({platform})" if platform else name, image.digest)
        return image


def context_digest(context: Path, dockerfile: Path | None = None) -> Digest:
    """A digest of the build context as the build sees it (through ``.dockerignore``):
    each entry's type, path and mode, a file's content digest, a symlink's target."""
    hasher = hashlib.sha256()
    for entry in walk_context(context, dockerfile=dockerfile):
        path = context / entry.path
        if entry.type == EntryType.FILE:
            with open(path, "rb") as f:
                detail = hashlib.file_digest(f, "sha256").hexdigest()
        elif entry.type == EntryType.SYMLINK:
            detail = os.readlink(path)
        else:
            detail = ""
        hasher.update(f"{entry.type} {entry.mode:o} {entry.path}\0{detail}\0".encode())
    return Digest(f"sha256:{hasher.hexdigest()}")


def _dockerfile_bytes(options: BuildOptions) -> tuple[str, bytes]:
    if options.dockerfile_text is not None:
        return "-", options.dockerfile_text.encode()
    path = options.dockerfile or options.context / "Dockerfile"
    try:
        return os.path.relpath(path, options.context), path.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"{path}: cannot read the Dockerfile: {exc.strerror}") from None


def _sha256(digest: Digest) -> dict[str, str]:
    return {digest.algorithm: digest.hex}


def provenance_predicate(
    options: BuildOptions,
    *,
    platforms: Sequence[str],
    bases: Mapping[str, Digest],
    context: Digest,
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    """The SLSA provenance v1 predicate of a build of ``options``."""
    name, dockerfile = _dockerfile_bytes(options)
    args = {k: v for k, v in sorted(options.build_args.items()) if not _SECRET_NAME.search(k)}
    left_out = sorted(k for k in options.build_args if _SECRET_NAME.search(k))
    external: dict[str, Any] = {"dockerfile": name, "buildArgs": args}
    if left_out:
        external["buildArgsLeftOut"] = left_out
    if options.target:
        external["target"] = options.target
    if platforms:
        external["platforms"] = list(platforms)
    if options.labels:
        external["labels"] = dict(sorted(options.labels.items()))
    if options.secrets:
        external["secrets"] = sorted(options.secrets)  # the ids only
    dependencies: list[dict[str, Any]] = [
        {"name": "dockerfile", "uri": f"file:{name}", "digest": _sha256(digest_of(dockerfile))},
        {"name": "context", "uri": "file:.", "digest": _sha256(context)},
    ]
    dependencies += [
        {"name": base, "uri": _base_uri(base), "digest": _sha256(digest)}
        for base, digest in sorted(bases.items())
    ]
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": external,
            "internalParameters": {"network": options.network, "noCache": options.no_cache},
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID, "version": {"imageforge": __version__}},
            "metadata": {"startedOn": rfc3339(started), "finishedOn": rfc3339(finished)},
        },
    }


def digest_of(data: bytes) -> Digest:
    return Digest(f"sha256:{hashlib.sha256(data).hexdigest()}")


def _base_uri(base: str) -> str:
    """A base as a URI: a layout or archive as named, an image by name as a purl."""
    name = base.split(" (", 1)[0].removeprefix(DOCKER)
    transport = name.partition(":")[0]
    if transport in TRANSPORTS and transport != "store":
        return name
    return "pkg:docker/" + name


@dataclass(frozen=True)
class Attest:
    """What a build attaches to the images it pushes, signed by ``signer``."""

    signer: Signer
    provenance: bool = False
    sbom: bool = False
    sign: bool = False
    mode: str = LEGACY


@dataclass(frozen=True)
class SignedBuild:
    built: Built
    attached: tuple[tuple[str, Signed], ...]  # (what: provenance|sbom|signature, where)


def _attach_to(built: Built, pushed: Sequence[Reference]) -> list[Location]:
    """Where a build's signature and attestations go: each registry it pushed to and
    each store repository it named, by the digest written there."""
    places: list[Location] = [dest.with_digest(built.digest) for dest in pushed]
    repositories: set[str] = set()
    for name in built.names:
        ref = Reference.parse(name)
        if ref.name not in repositories:  # one signature per repository, as a push
            repositories.add(ref.name)
            places.append(TransportRef("store", name))
    return places


def signed_build(
    session: Session,
    options: BuildOptions,
    attest: Attest | None,
    *,
    tags: Sequence[str] = (),
    outputs: Sequence[Location | str] = (),
    platforms: Sequence[str] = (),
    cache_from: Sequence[CacheLocation] = (),
    cache_to: CacheLocation | None = None,
) -> SignedBuild:
    """:func:`~imageforge.pipeline.build`, then provenance, SBOM and signature attached
    (as ``attest`` asks; None: nothing) to each ``docker://`` output, by the digest
    pushed there, and in the store beside the names ``tags`` gave it (``push`` carries
    them on)."""
    dests = [parse_location(o) if isinstance(o, str) else o for o in outputs]
    pushed = [d for d in dests if isinstance(d, Reference)]
    if attest is not None and not pushed and not tags:
        raise InvalidArgument(
            "--provenance, --sbom and --sign attach to a named or pushed image",
            hint="add -t NAME (kept in the store; push carries them) or "
            "--output docker://REGISTRY/REPO:TAG",
        )
    resolver = _RecordingResolver(session)  # the bases, for provenance
    started = datetime.now(UTC)
    built = build(
        session,
        options,
        tags=tags,
        outputs=dests,
        platforms=platforms,
        resolver=resolver,
        cache_from=cache_from,
        cache_to=cache_to,
    )
    if attest is None:
        return SignedBuild(built, ())
    from imageforge.pipeline._sign import sign_image
    from imageforge.pipeline._sign_attest import attest_image
    from imageforge.sbom import SourceInfo, generate, to_spdx

    finished = datetime.now(UTC)
    attached: list[tuple[str, Signed]] = []
    predicates: list[tuple[str, str, Any]] = []
    if attest.provenance:
        predicate = provenance_predicate(
            options,
            platforms=[p for p, _ in built.platforms] or list(platforms),
            bases=resolver.resolved,
            context=context_digest(options.context, options.dockerfile),
            started=started,
            finished=finished,
        )
        predicates.append(("provenance", "slsaprovenance1", predicate))
    if attest.sbom:
        source = SourceInfo(kind="image", name=str(pushed[0] if pushed else built.names[0]))
        document = to_spdx(generate(built.result.image, source, progress=session.progress))
        predicates.append(("sbom", "spdx", document))
    for image in _attach_to(built, pushed):
        for what, kind, predicate in predicates:
            signed = attest_image(session, image, attest.signer, predicate, kind, mode=attest.mode)
            attached.append((what, signed))
        if attest.sign:
            attached.append(
                ("signature", sign_image(session, image, attest.signer, mode=attest.mode))
            )
    return SignedBuild(built, tuple(attached))
