"""Where signatures and attestations are kept beside an image: a registry repository, the
local store, an OCI layout. One :class:`Repository` protocol, so finding, writing and
carrying them (``_sign_store``, ``_sign_copy``) is written once for every place.

- a registry (:class:`RegistryRepository`): cosign's ``sha256-<hex>.sig``/``.att`` tags
  and OCI 1.1 referrers, found through the referrers API or, on a registry without it
  (distribution 2.8), the distribution spec 1.1's referrers tag schema (an index tagged
  ``sha256-<hex>`` listing them), which this module keeps up to date;
- the store (:class:`StoreRepository`): the same names under the image's repository
  (``host/repo:sha256-<hex>.sig``), and referrers listed by the referrers tag schema,
  so a pulled image keeps what was attached to it and verifies with no registry;
- an OCI layout (:class:`LayoutRepository`): image-layout 1.1, ``index.json`` lists
  each referrer with its ``artifactType`` (a legacy object is an entry named by its
  tag, as a layout names tags).

Everything read back is untrusted: manifests are bounded, blobs are checked against
their digests by the readers above (``sign.read_signed_layers``, the store's ingest).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Protocol

from imageforge.errors import Conflict, InvalidArgument, NotFound
from imageforge.layers import BlobImage
from imageforge.oci import (
    BaseIndex,
    Descriptor,
    Digest,
    Image,
    ImageIndex,
    IndexManifest,
    Manifest,
    Reference,
    media,
    walk_image_graph,
)
from imageforge.pipeline._location import Location
from imageforge.pipeline._session import Session
from imageforge.pipeline._sign_modes import OCI_1_1
from imageforge.store import Store
from imageforge.transports import (
    REF_NAME,
    LayoutReader,
    TransportRef,
    open_archive_layout,
    write_image,
)

if TYPE_CHECKING:
    import httpx

    from imageforge.remote import Client

__all__ = [
    "LayoutRepository",
    "RegistryRepository",
    "Repository",
    "StoreRepository",
    "Target",
    "may_hold_attached",
    "referrers_tag",
    "repository_for",
    "resolve_target",
    "tag_schema_index",
]

_MAX_MANIFEST: Final = 4 << 20
# cosign's legacy tags are the referrers tag with these suffixes (``sign.signature_tag``,
# ``sign.attestation_tag``), named here so asking a registry whether it keeps anything
# for an image does not import the signing code.
_LEGACY_SUFFIXES: Final = (".sig", ".att")


def referrers_tag(digest: Digest) -> str:
    """The distribution spec 1.1's referrers tag schema: ``<alg>-<hex>``."""
    return f"{digest.algorithm}-{digest.hex}"


class Repository(Protocol):
    """One place attached objects are kept for the images in it."""

    @property
    def name(self) -> str:
        """How messages name the place."""
        ...

    @property
    def layout(self) -> str | None:
        """The layout objects carried here are written in (``legacy`` or ``oci-1-1``);
        None: the layout each had at its source."""
        ...

    def manifest(self, ref: str) -> bytes | None:
        """The manifest tagged ``ref`` (or of digest ``ref``); None when there is none."""
        ...

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        """Blobs by digest (checked by whoever reads them)."""
        ...

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        """The referrers of ``digest`` of ``artifact_type``; None when the place cannot
        list them (they are then in the referrers tag schema)."""
        ...

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        """Write ``image`` (its blobs, then its manifest) under ``tag``, or, with None,
        as a referrer of its ``subject``, listed where this place lists referrers.
        Returns the tag that now names or lists it (None: the place lists it by
        subject). ``source`` is where ``image``'s blobs come from (a registry mounts
        them from a repository of its own)."""
        ...


def tag_schema_index(repository: Repository, digest: Digest) -> IndexManifest | None:
    raw = repository.manifest(referrers_tag(digest))
    if raw is None:
        return None
    return IndexManifest.parse(raw, what=f"referrers tag {referrers_tag(digest)}")


def _listed(repository: Repository, desc: Descriptor, subject: Digest) -> IndexManifest:
    """The referrers tag schema's index of ``subject`` with ``desc`` added."""
    tag = referrers_tag(subject)
    try:
        index = tag_schema_index(repository, subject)
    except InvalidArgument as exc:
        raise Conflict(
            f"{repository.name}:{tag} is not a referrers index ({exc.message}); "
            f"the referrer {desc.digest} is not listed",
            hint=f"delete the tag {tag} and sign again",
        ) from None
    entries = [d for d in (index.manifests if index else ()) if d.digest != desc.digest]
    return IndexManifest((*entries, desc))


def _as_entry(image: Image) -> tuple[Descriptor, Digest]:
    """A referrer's index entry and its subject's digest."""
    manifest = image.manifest()
    if manifest.subject is None:
        raise InvalidArgument(f"manifest {image.digest} has no subject: it is not a referrer")
    desc = Descriptor(
        manifest.media_type,
        image.digest,
        len(image.raw_manifest()),
        artifact_type=manifest.artifact_type,
    )
    return desc, manifest.subject.digest


class RegistryRepository:
    """A repository of a registry, through the session's client."""

    def __init__(self, client: Client, reference: Reference) -> None:
        from imageforge.remote import registry_host  # see _session: only when used

        self.client = client
        self.reference = reference
        self.host = registry_host(reference.domain)
        self.repo = reference.path

    @property
    def name(self) -> str:
        return self.reference.name

    @property
    def layout(self) -> str | None:
        return None

    def manifest(self, ref: str) -> bytes | None:
        try:
            return self.client.get_manifest(self.host, self.repo, ref)[0]
        except NotFound:
            return None

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        return self.client.blob_opener(self.host, self.repo)

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        """Through the referrers API; None when the registry has none (it answers 404,
        which the spec forbids a registry with the API to answer, or 405 as some do)."""
        what = f"referrers of {self.repo}@{digest}"
        resp = self._referrers(digest, what, {"artifactType": artifact_type})
        if resp.status_code in (404, 405):
            return None
        self.client.check(resp, self.host, what, (200,))
        if len(resp.content) > _MAX_MANIFEST:
            raise InvalidArgument(f"{self.host}: {what}: larger than {_MAX_MANIFEST} bytes")
        index = IndexManifest.parse(resp.content, what=what, validate=False)
        return [d for d in index.manifests if d.artifact_type == artifact_type]

    def _referrers(
        self, digest: Digest, what: str, params: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.send(
            "GET",
            self.host,
            f"/v2/{self.repo}/referrers/{digest}",
            what=what,
            params=params,
            headers={"Accept": media.OCI_INDEX},
        )

    def may_hold(self, digest: Digest) -> bool:
        """Whether anything may be attached to ``digest`` here: False only when the
        registry answers that the legacy tags are not there and that nothing refers to
        it (the referrers API lists nothing, or where there is none, the referrers tag
        schema's tag is not there either). Any other answer is a maybe, for the
        readers of :mod:`._sign_store` to look into (and report as they do)."""
        from imageforge.remote import MANIFEST_ACCEPT

        what = f"referrers of {self.repo}@{digest}"
        resp = self._referrers(digest, what)
        tags = [referrers_tag(digest) + suffix for suffix in _LEGACY_SUFFIXES]
        if resp.status_code in (404, 405):  # no referrers API: its tag schema instead
            tags.append(referrers_tag(digest))
        elif resp.status_code != 200 or len(resp.content) > _MAX_MANIFEST:
            return True
        else:
            try:
                if IndexManifest.parse(resp.content, what=what, validate=False).manifests:
                    return True
            except InvalidArgument:
                return True
        for tag in tags:
            head = self.client.send(
                "HEAD",
                self.host,
                f"/v2/{self.repo}/manifests/{tag}",
                what=f"manifest {self.repo}:{tag}",
                headers={"Accept": MANIFEST_ACCEPT},
            )
            head.close()
            if head.status_code != 404:
                return True
        return False

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        from imageforge.remote import PushOptions, push

        mount = None
        if isinstance(source, RegistryRepository) and source.host == self.host:
            mount = source.repo if source.repo != self.repo else None
        options = PushOptions(jobs=2, mount_from=mount)
        if tag is not None:
            push(self.client, image, self.reference.with_tag(tag), options=options)
            return tag
        desc, subject = _as_entry(image)
        push(self.client, image, self.reference.with_digest(image.digest), options=options)
        if self.referrers(subject, desc.artifact_type or "") is not None:
            return None
        index = _listed(self, desc, subject)
        schema_tag = referrers_tag(subject)
        self.client.put_manifest(
            self.host, self.repo, schema_tag, index.to_bytes(), media.OCI_INDEX
        )
        return schema_tag


class _Referrers(BaseIndex):
    """A referrers tag schema's index in the store, with the one referrer it gains."""

    validate_schema = False

    def __init__(self, index: IndexManifest, store: Store, added: Image) -> None:
        self._raw = index.to_bytes()
        self._store = store
        self._added = added

    def raw_manifest(self) -> bytes:
        return self._raw

    def image(self, digest: Digest) -> Image:
        if digest == self._added.digest:
            return self._added
        raw, _ = self._store.read_manifest(digest)
        return BlobImage(self._store.blobs.open, raw, validate=False)

    def index(self, digest: Digest) -> ImageIndex:
        raise NotFound(f"a referrers index lists no index ({digest})")


class StoreRepository:
    """The store's names under one repository (``host/repo``): what was pulled, built or
    imported there, and what is attached to it."""

    def __init__(self, store: Store, reference: Reference) -> None:
        self.store = store
        self.reference = reference

    @property
    def name(self) -> str:
        return self.reference.name

    @property
    def layout(self) -> str | None:
        return None

    def _ref(self, tag: str) -> TransportRef:
        return TransportRef("store", str(self.reference.with_tag(tag)))

    def manifest(self, ref: str) -> bytes | None:
        if ref.startswith("sha256:"):
            digest = Digest(ref)
            if not self.store.blobs.exists(digest):
                return None
        else:
            try:
                digest = self.store.refs.get(self._ref(ref).path).digest
            except NotFound:
                return None
        if self.store.blobs.info(digest).size > _MAX_MANIFEST:
            raise InvalidArgument(f"{self.name}: {ref} is larger than {_MAX_MANIFEST} bytes")
        with self.store.blobs.open(digest) as f:
            return f.read()

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        return self.store.blobs.open

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        return None  # listed in the referrers tag schema

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        if tag is not None:
            write_image(image, self._ref(tag), self.store)
            return tag
        desc, subject = _as_entry(image)
        # The referrer and the index that keeps it are written as one graph, so the
        # store never holds a referrer no name reaches.
        index = _Referrers(_listed(self, desc, subject), self.store, image)
        schema_tag = referrers_tag(subject)
        write_image(index, self._ref(schema_tag), self.store)
        return schema_tag


class _Layout(Protocol):
    index: IndexManifest

    def open(self, digest: Digest) -> IO[bytes]: ...


class LayoutRepository:
    """An OCI layout (or, read only, an OCI archive): image-layout 1.1 lists referrers
    in ``index.json`` with their artifact type. What is carried here becomes referrers;
    a legacy object already in a layout (an entry named ``sha256-<hex>.sig``) is read
    too."""

    def __init__(self, root: Path, *, archive: bool = False) -> None:
        self.root = root
        self.archive = archive
        self._opened: _Layout | None = None
        self._closing = ExitStack()

    @property
    def name(self) -> str:
        return f"{'oci-archive' if self.archive else 'oci'}:{self.root}"

    @property
    def layout(self) -> str | None:
        return OCI_1_1  # image-layout 1.1: index.json lists referrers

    def _reader(self) -> _Layout | None:
        if not self.archive:
            try:
                return LayoutReader(self.root)  # read afresh: this copy may have written it
            except NotFound:
                return None
        if self._opened is None:
            self._opened = self._closing.enter_context(open_archive_layout(self.root))
        return self._opened

    def close(self) -> None:
        self._closing.close()

    def manifest(self, ref: str) -> bytes | None:
        reader = self._reader()
        if reader is None:
            return None
        if ref.startswith("sha256:"):
            found = Digest(ref)
        else:
            names = [d for d in reader.index.manifests if d.annotations.get(REF_NAME) == ref]
            if not names:
                return None
            found = names[0].digest
        try:
            with reader.open(found) as f:
                raw = f.read(_MAX_MANIFEST + 1)
        except NotFound:
            return None
        if len(raw) > _MAX_MANIFEST:
            raise InvalidArgument(f"{self.name}: {ref} is larger than {_MAX_MANIFEST} bytes")
        return raw

    def opener(self) -> Callable[[Digest], IO[bytes]]:
        reader = self._reader()
        if reader is None:
            raise NotFound(f"{self.name} does not exist")
        return reader.open

    def referrers(self, digest: Digest, artifact_type: str) -> list[Descriptor] | None:
        reader = self._reader()
        if reader is None:
            return []
        out = []
        for desc in reader.index.manifests:
            if desc.artifact_type != artifact_type or not media.is_manifest(desc.media_type):
                continue
            raw = self.manifest(str(desc.digest))
            if raw is None:
                continue
            manifest = Manifest.parse(raw, what=f"{self.name}: {desc.digest}", validate=False)
            if manifest.subject is not None and manifest.subject.digest == digest:
                out.append(desc)
        return out

    def put(self, image: Image, tag: str | None, source: Repository | None = None) -> str | None:
        if self.archive:
            raise InvalidArgument(f"{self.name}: an archive is written whole, not added to")
        write_image(image, TransportRef("oci", str(self.root), tag))
        return tag


@dataclass(frozen=True)
class Target:
    """The image a signature is for: where it is, the manifest it resolved to (once:
    everything after uses the digest) and, for a registry or the store, the name the
    user gave."""

    repository: Repository
    descriptor: Descriptor
    reference: Reference | None = None

    @property
    def digest(self) -> Digest:
        return self.descriptor.digest

    @property
    def pinned(self) -> Reference:
        """The image by digest: what is signed and checked."""
        if self.reference is None:
            return Reference.parse(f"{self.repository.name}@{self.digest}")
        return self.reference.with_digest(self.digest)


def resolve_target(repository: RegistryRepository | StoreRepository) -> Target:
    """The image ``repository``'s reference names, resolved to its manifest's digest
    (a tag is read once)."""
    ref = repository.reference.with_default_tag()
    if isinstance(repository, RegistryRepository):
        tag_or_digest = str(ref.digest) if ref.digest is not None else str(ref.tag)
        raw, media_type, digest = repository.client.get_manifest(
            repository.host, ref.path, tag_or_digest
        )
        return Target(repository, Descriptor(media_type, digest, len(raw)), ref)
    store = repository.store
    if ref.digest is not None:
        digest = ref.digest
        media_type = store.read_manifest(digest)[1].media_type
    else:
        entry = store.refs.get(str(ref))
        digest, media_type = entry.digest, entry.media_type
    return Target(repository, Descriptor(media_type, digest, store.blobs.info(digest).size), ref)


def keeps_attached(location: Location) -> bool:
    """Whether ``location`` can keep what is attached to its images: a registry, a
    named store image, an ``oci:``/``oci-archive:`` layout (not a Docker archive, a root
    filesystem or an unnamed store image)."""
    if isinstance(location, Reference):
        return True
    if location.transport == "store":
        return not location.path.startswith("sha256:")
    return location.transport in ("oci", "oci-archive")


def may_hold_attached(session: Session, location: Location, written: Image | ImageIndex) -> bool:
    """Whether ``location`` may keep something attached to ``written``; False only when
    it surely keeps nothing, so a copy that has nothing to carry never imports the
    signing code (its import costs a short command such as ``import oci:`` a third of
    its time). An ``oci:`` layout keeps an attached object only as an ``index.json``
    entry (a referrer, or a legacy object under its ``sha256-<hex>.sig`` tag): a
    layout whose entries are all ``written``'s own manifests, none under such a tag,
    keeps none. The store keeps them under ``sha256-`` tags of the image's repository.
    A registry is asked, for each manifest of ``written``, about the tags and referrers
    the signing code would read (:meth:`RegistryRepository.may_hold`: a few requests
    instead of its import); an archive is not looked into here (True)."""
    if not keeps_attached(location):
        return False
    if isinstance(location, Reference):
        registry = RegistryRepository(session.client, location)
        return any(registry.may_hold(node.digest) for node in walk_image_graph(written))
    if location.transport not in ("oci", "store"):
        return True
    if location.transport == "store":
        repository = Reference.parse(location.path).name
        return any(e.name.startswith(f"{repository}:sha256-") for e in session.store.refs.all())
    try:
        entries = LayoutReader(Path(location.path)).index.manifests
    except NotFound:
        return False
    own = {node.digest for node in walk_image_graph(written)}
    return any(
        d.digest not in own or d.annotations.get(REF_NAME, "").startswith("sha256-")
        for d in entries
    )


def repository_for(session: Session, location: Location) -> Repository | None:
    """Where ``location`` keeps what is attached to its images: a registry repository,
    the store's names under a repository, a layout; None for a place that holds no
    signatures (see :func:`keeps_attached`)."""
    if not keeps_attached(location):
        return None
    if isinstance(location, Reference):
        return RegistryRepository(session.client, location)
    if location.transport == "store":
        return StoreRepository(session.store, Reference.parse(location.path))
    return LayoutRepository(Path(location.path), archive=location.transport != "oci")
