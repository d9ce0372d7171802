"""``copy`` = any source -> any sink, for every transport; ``open_source`` reads one.

Blobs stream from source to sink verified (digest and size) and in 1 MiB chunks; the
name (store ref, ``index.json`` entry, archive file) is written last, so an interrupted
copy leaves no name pointing at missing content. Layers copied into the store are read
back once more to check their diff_id and reject hostile tar entries before the image is
named.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from imageforge.errors import DigestMismatch, InvalidArgument, NotFound
from imageforge.layers import (
    BlobLayer,
    EntryType,
    LayerReader,
    check_diff_id,
    open_image_or_index,
)
from imageforge.oci import (
    Descriptor,
    Digest,
    Image,
    ImageIndex,
    Layer,
    Platform,
    host_platform,
    media,
    walk_image_graph,
)
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.store import Store
from imageforge.transports._archive import (
    ArchiveReader,
    DockerArchiveImage,
    index_of_layout,
    write_docker_archive,
    write_tar,
)
from imageforge.transports._layout import LayoutReader, add_to_index, select_manifest
from imageforge.transports._names import TransportRef, parse_transport_ref
from imageforge.transports._rootfs import rootfs_image
from imageforge.transports._sinks import BlobSink, DirBlobSink, StoreBlobSink

__all__ = [
    "CopyResult",
    "copy",
    "open_source",
    "select_platform",
    "staged_archive",
    "write_image",
]


@dataclass(frozen=True)
class CopyResult:
    digest: Digest
    media_type: str
    destination: str


def _descriptor(obj: Image | ImageIndex) -> Descriptor:
    """The descriptor an index entry gives ``obj`` (its ``artifactType`` too, as the
    image spec asks of an artifact's entry)."""
    raw = obj.raw_manifest()
    artifact_type = obj.manifest().artifact_type
    return Descriptor(obj.media_type, obj.digest, len(raw), artifact_type=artifact_type)


@contextmanager
def open_source(
    ref: TransportRef | str, store: Store | None = None
) -> Iterator[Image | ImageIndex]:
    tref = parse_transport_ref(ref) if isinstance(ref, str) else ref
    if tref.transport == "store":
        if store is None:
            raise InvalidArgument(f"{tref}: no local store given")
        if tref.path.startswith("sha256:"):
            digest = Digest(tref.path)
            media_type = store.read_manifest(digest)[1].media_type
        else:
            entry = store.refs.get(tref.path)
            digest, media_type = entry.digest, entry.media_type
        size = store.blobs.info(digest).size
        # Manifests and configs reach the store only from checked sources or from
        # imageforge itself, and blobs are verified by digest as read: no schema pass.
        desc = Descriptor(media_type, digest, size)
        yield open_image_or_index(store.blobs.open, desc, validate=False)
    elif tref.transport == "oci":
        layout = LayoutReader(Path(tref.path))
        desc = select_manifest(layout.index, tref.tag, f"OCI layout {tref.path}")
        yield open_image_or_index(layout.open, desc)
    elif tref.transport == "oci-archive":
        archive = ArchiveReader(Path(tref.path))
        try:
            index = index_of_layout(archive)
            desc = select_manifest(index, tref.tag, f"OCI archive {tref.path}")
            yield open_image_or_index(archive.open_blob, desc)
        finally:
            archive.close()
    elif tref.transport == "docker-archive":
        archive = ArchiveReader(Path(tref.path))
        try:
            yield DockerArchiveImage(archive, tref.tag)
        finally:
            archive.close()
    elif tref.transport == "rootfs":
        with rootfs_image(Path(tref.path)) as image:
            yield image
    else:
        raise InvalidArgument(f"{tref}: cannot read from transport {tref.transport!r}")


def select_platform(obj: Image | ImageIndex, platform: Platform | None = None) -> Image:
    """The image itself, or the index's child for ``platform`` (default: this host)."""
    if not isinstance(obj, ImageIndex):
        return obj
    wanted = platform or host_platform()
    for desc in obj.manifest().manifests:
        if (
            desc.platform is not None
            and desc.platform.matches(wanted)
            and media.is_manifest(desc.media_type)
        ):
            return obj.image(desc.digest)
    for desc in obj.manifest().manifests:
        if media.is_index(desc.media_type):
            try:
                return select_platform(obj.index(desc.digest), wanted)
            except NotFound:
                continue
    raise NotFound(f"index {obj.digest} has no image for {wanted}")


LayerCheck = Callable[[int, Layer], None]


def _copy_layer(
    i: int, layer: Layer, sink: BlobSink, progress: ProgressSink, check: LayerCheck | None
) -> None:
    """Copy one layer; then ``check`` it (in the same worker, while other layers are
    still arriving)."""
    key = f"layer-{layer.digest}"
    progress.start(key, f"copying layer {i + 1} {layer.digest.short}", layer.size, "bytes")
    try:
        if isinstance(layer, BlobLayer) and sink.verifies:
            opened = layer.open_unverified()
        else:
            opened = layer.open_compressed()
        with opened as src:
            sink.put(layer.digest, layer.size, src, progress=progress, key=key)
    except BaseException:
        progress.done(key, failed=True)
        raise
    progress.done(key)
    if check is not None and media.is_layer(layer.media_type):
        check(i, layer)


def _push_image(
    image: Image, sink: BlobSink, progress: ProgressSink, jobs: int, check: LayerCheck | None
) -> None:
    """The config and layers of one image; up to ``jobs`` layers at once (a registry
    source streams each over its own connection). ``check`` sees each filesystem layer
    of an image (not of an artifact) once it is stored."""
    manifest = image.manifest()
    if not media.is_image_config(manifest.config.media_type):
        check = None
    raw_config = image.raw_config()
    if not sink.has(manifest.config.digest):
        sink.put(manifest.config.digest, len(raw_config), io.BytesIO(raw_config))
    todo: dict[Digest, tuple[int, Layer]] = {}
    for i, layer in enumerate(image.layers()):
        if layer.digest in todo:
            continue
        if sink.has(layer.digest):
            progress.note(f"layer {i + 1}: {layer.digest.short} already present")
            continue
        todo[layer.digest] = (i, layer)
    if jobs <= 1 or len(todo) <= 1:
        for i, layer in todo.values():
            _copy_layer(i, layer, sink, progress, check)
    else:
        pool = ThreadPoolExecutor(max_workers=jobs)
        try:
            futures = [
                pool.submit(_copy_layer, i, layer, sink, progress, check)
                for i, layer in todo.values()
            ]
            for fut in futures:
                fut.result()
        finally:  # after a failure, layers not started are not started at all
            pool.shutdown(wait=True, cancel_futures=True)


def _push(
    obj: Image | ImageIndex,
    sink: BlobSink,
    progress: ProgressSink,
    jobs: int = 1,
    check: LayerCheck | None = None,
) -> None:
    """Every blob ``obj`` needs, each image's blobs before its manifest and every child
    before the index that names it (the image graph's walk order)."""
    for node in walk_image_graph(obj):
        if not isinstance(node, ImageIndex):
            _push_image(node, sink, progress, jobs, check)
        raw = node.raw_manifest()
        if not sink.has(node.digest):
            sink.put(node.digest, len(raw), io.BytesIO(raw))


def _check_entries(reader: LayerReader, what: str) -> None:
    """Refuse entries that would be written through a symlink the same layer created
    (``evil -> /etc`` then ``evil/passwd``); ``..`` and NUL are refused by the reader."""
    symlinks: dict[str, str] = {}
    for entry in reader:
        parts = entry.path.split("/")
        for k in range(1, len(parts)):
            parent = "/".join(parts[:k])
            if parent in symlinks:
                raise InvalidArgument(
                    f"{what}: entry {entry.path!r} would be written through the symlink "
                    f"{parent!r} -> {symlinks[parent]!r} that the same layer creates",
                    hint="the layer is malformed or hostile; do not use it",
                )
        if entry.type is EntryType.SYMLINK:
            symlinks[entry.path] = entry.linkname
        else:
            symlinks.pop(entry.path, None)


def _check_layer(open_blob: Callable[[Digest], IO[bytes]], i: int, layer: Layer) -> str:
    """Re-read a newly stored filesystem layer in one pass: its digest and size, its
    diff_id against the config, and no entry escaping the root. Other layers
    (signatures, attestations, artifacts' blobs: see ``media.is_layer``) are plain
    blobs, already verified by digest and size as the sink stored them, and never
    unpacked; so are all the layers of an artifact (a config that is no image's, as a
    build cache has). Returns the note to show."""
    what = f"layer {i + 1} ({layer.digest})"
    # The reader hashes the blob as it reads it (compared below): no verifying wrapper
    # hashes the same bytes a second time.
    with open_blob(layer.digest) as raw:
        reader = LayerReader(raw, name=f"{i + 1} ({layer.digest})", media_type=layer.media_type)
        _check_entries(reader, what)
        info = reader.finish()
    if info.digest != layer.digest or info.size != layer.size:
        raise DigestMismatch(
            f"{what}: stored content is {info.digest} ({info.size} bytes), "
            f"expected {layer.digest} ({layer.size} bytes)",
            expected=str(layer.digest),
            actual=str(info.digest),
            hint="the store was changed while the copy ran; pull again",
        )
    check_diff_id(layer, i, info)
    return f"layer {i + 1}: diff_id and entries verified"


def _to_store(
    obj: Image | ImageIndex, store: Store, name: str, progress: ProgressSink, jobs: int = 1
) -> None:
    with store.writing():
        sink = StoreBlobSink(store)

        def check(i: int, layer: Layer) -> None:
            # Checked as stored, not from the source again (a registry would be asked
            # for every layer twice), by the worker that stored it; the config giving
            # the diff_id is the source's bytes (same digest), schema-checked as read.
            if layer.digest in sink.added:
                progress.note(_check_layer(store.blobs.open, i, layer))

        try:
            _push(obj, sink, progress, jobs, check)
            sink.sync()  # every blob durable before the ref that names them
        except BaseException:
            # Nothing names what this copy added: take it away again.
            for digest in sink.added:
                if not store.refs.names_for(digest):
                    try:
                        store.blobs.delete(digest)
                    except NotFound:
                        pass
            raise
        store.refs.set(name, obj.digest, obj.media_type)


@contextmanager
def staged_archive(dest: Path) -> Iterator[Path]:
    """An empty directory beside ``dest`` to write an OCI layout into; when the block
    ends without an error it becomes the OCI archive ``dest`` (written atomically), so
    anything written to a layout (an image, the referrers carried with it) goes into
    an archive the same way."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".oci-archive-", dir=dest.parent) as tmp:
        layout = Path(tmp)
        yield layout
        members: list[tuple[str, Path | bytes]] = [
            ("oci-layout", layout / "oci-layout"),
            ("index.json", layout / "index.json"),
        ]
        for path in sorted((layout / "blobs").rglob("*")):
            if path.is_file():
                members.append((str(path.relative_to(layout)), path))
        write_tar(dest, members)


def copy(
    src: str | TransportRef,
    dst: str | TransportRef,
    store: Store | None = None,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    platform: Platform | None = None,
) -> CopyResult:
    with open_source(src, store) as obj:
        return write_image(obj, dst, store, progress=progress, platform=platform)


def write_image(
    obj: Image | ImageIndex,
    dst: str | TransportRef,
    store: Store | None = None,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    platform: Platform | None = None,
    jobs: int = 1,
) -> CopyResult:
    """Write an image or index held in memory (a build result, a mutated image) to any
    sink; ``copy`` is ``open_source`` followed by this. ``jobs`` layers are copied at
    once into the store or a layout."""
    dref = parse_transport_ref(dst) if isinstance(dst, str) else dst
    if dref.transport == "store":
        if store is None:
            raise InvalidArgument(f"{dref}: no local store given")
        _to_store(obj, store, dref.path, progress, jobs)
    elif dref.transport == "oci":
        root = Path(dref.path)
        sink = DirBlobSink(root)
        _push(obj, sink, progress, jobs)
        sink.sync()  # every blob durable before index.json names the image
        add_to_index(root, _descriptor(obj), dref.tag)
    elif dref.transport == "oci-archive":
        with staged_archive(Path(dref.path)) as layout:
            # staged, packed into the archive (which is fsynced), removed: no fsyncs
            _push(obj, DirBlobSink(layout, durable=False), progress, jobs)
            add_to_index(layout, _descriptor(obj), dref.tag)
    elif dref.transport == "docker-archive":
        image = select_platform(obj, platform)
        names = [dref.tag] if dref.tag else []
        write_docker_archive(Path(dref.path), image, names)
    else:
        raise InvalidArgument(f"{dref}: cannot write to transport {dref.transport!r}")
    return CopyResult(obj.digest, obj.media_type, str(dref))
