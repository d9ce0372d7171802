"""Which image layer brought each package in, and the history entry (the Dockerfile
instruction) that made that layer.

A language package is found by a file of its own (``METADATA``, ``package.json``, a jar,
a binary): the layer of that file's visible copy brought this version in. OS packages
share one database file (``var/lib/dpkg/status``, ``lib/apk/db/installed``, an rpmdb),
rewritten by every layer that installs anything, so the layer of its final copy would
blame the last ``apt-get install`` for the whole base image. As trivy does, the copy
each layer wrote is read again and catalogued: a package's layer is the first one of the
run of copies, up to the final one, that lists it at this version. Only layers that wrote
the database are read again (the index pass says which), one pass each, stopping at the
database file.

Layers pair with history entries as docker, podman and dive pair them: the entries that
are not ``empty_layer``, in order (:func:`imageforge.analyze.layer_history`)."""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from imageforge.errors import ImageforgeError, NotFound
from imageforge.layers import EntryType, FsView, LayerDiff, read_layer
from imageforge.oci import History, Image
from imageforge.sbom import Cataloger, Evidence, FileInfo, Sbom
from imageforge.vuln import LayerOrigin

__all__ = ["DatabaseWrites", "image_layers", "instruction", "package_layers"]


@functools.cache
def os_catalogers() -> tuple[Cataloger, ...]:
    """The catalogers of package databases (imported when an image is read, not for a
    warm scan or an SBOM's)."""
    from imageforge.sbom.catalogers import ApkCataloger, DpkgCataloger, RpmCataloger

    return (DpkgCataloger(), ApkCataloger(), RpmCataloger())


def instruction(entry: History | None) -> str | None:
    """The history entry as the instruction a user wrote: docker's ``/bin/sh -c #(nop)``
    and BuildKit's ``# buildkit`` marks removed, a shell command shown as ``RUN``."""
    if entry is None:
        return None
    text = (entry.created_by or entry.comment or "").strip()
    if not text:
        return None
    text = text.removesuffix("# buildkit").strip()
    if text.startswith("|"):  # BuildKit: "|2 A=1 B=2 /bin/sh -c cmd" (build args)
        parts = text.split(" ")
        try:
            text = " ".join(parts[int(parts[0][1:]) + 1 :])
        except ValueError:
            pass
    nop = "/bin/sh -c #(nop)"
    if text.startswith(nop):
        return text[len(nop) :].strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c ") :].strip()
    return text


def image_layers(image: Image) -> list[LayerOrigin]:
    """Every layer of ``image``, bottom first, with its history entry."""
    from imageforge.analyze import layer_history

    descriptors = image.manifest().layers
    config = image.config()
    diff_ids = config.diff_ids
    history = layer_history(config.history, len(descriptors))
    return [
        LayerOrigin(
            str(d.digest),
            i + 1,
            str(diff_ids[i]) if i < len(diff_ids) else None,
            instruction(history[i]),
        )
        for i, d in enumerate(descriptors)
    ]


class DatabaseWrites:
    """Shown each :class:`LayerDiff` of the index pass, remembers which layers wrote
    (or removed) a file an OS cataloger reads."""

    def __init__(self) -> None:
        self.layers: dict[str, list[int]] = {}

    @staticmethod
    def _wanted(path: str, kind: str, mode: int, size: int) -> bool:
        info = FileInfo(path, kind, mode, size)
        return any(c.wants(info) for c in os_catalogers())

    def __call__(self, diff: LayerDiff) -> None:
        nodes = [*diff.added, *(new for _, new in diff.modified), *diff.removed]
        for node in nodes:
            if node.type in (EntryType.FILE, EntryType.HARDLINK) and self._wanted(
                node.path, "file", node.mode, node.size
            ):
                writes = self.layers.setdefault(node.path, [])
                if not writes or writes[-1] != diff.index:
                    writes.append(diff.index)


class _OneFile:
    """:class:`~imageforge.sbom.Files` holding one file's content as a layer wrote it."""

    def __init__(self, path: str, data: bytes) -> None:
        self._path = path
        self._data = data

    def paths(self) -> Iterable[str]:
        return [self._path]

    def info(self, path: str) -> FileInfo | None:
        if path == self._path:
            return FileInfo(path, "file", 0o644, len(self._data))
        if self._path.startswith(path.rstrip("/") + "/") or path in ("", "."):
            return FileInfo(path, "dir", 0o755, 0)  # a parent on the way to it
        return None

    def read(self, path: str) -> bytes:
        if path != self._path:
            raise NotFound(f"{path!r} is not in this layer's copy")
        return self._data

    def open(self, path: str) -> BinaryIO:
        return io.BytesIO(self.read(path))

    def evidence(self, path: str) -> Evidence:
        return Evidence(path)


def _copy_in_layer(view: FsView, index: int, path: str) -> bytes | None:
    """The content ``path`` has in layer ``index`` (None: the layer removed it, or
    cannot be read)."""
    layer = view.layers[index]
    found: bytes | None = None
    try:
        with read_layer(layer, index) as reader:
            for entry in reader:
                if entry.path == path and entry.type is EntryType.FILE:
                    found = reader.read()
    except ImageforgeError:
        return None
    return found


def _listed(path: str, data: bytes) -> set[tuple[str, str]]:
    files = _OneFile(path, data)
    out: set[tuple[str, str]] = set()
    for cataloger in os_catalogers():
        if cataloger.wants(files.info(path) or FileInfo(path, "file", 0, 0)):
            try:
                out.update((p.name, p.version) for p in cataloger.catalog(files, _ignore))
            except Exception:  # noqa: BLE001 - an unreadable old copy blames nothing
                continue
    return out


def _ignore(path: str, message: str) -> None:
    return None


def _first_of_last_run(
    key: tuple[str, str], copies: Sequence[tuple[int, set[tuple[str, str]] | None]]
) -> int | None:
    origin: int | None = None
    for index, listed in copies:
        if listed is not None and key in listed:
            origin = index if origin is None else origin
        else:
            origin = None
    return origin


def package_layers(
    sbom: Sbom, view: FsView, writes: DatabaseWrites, layers: Sequence[LayerOrigin]
) -> dict[str, LayerOrigin]:
    """Package id -> the layer that brought it in, for an SBOM of the image ``view``
    shows (``writes`` watched its index pass)."""
    by_digest = {layer.digest: layer for layer in layers}
    out: dict[str, LayerOrigin] = {}
    history: dict[str, list[tuple[int, set[tuple[str, str]] | None]]] = {}
    for pkg in sbom.packages:
        if not pkg.evidence:
            continue
        database = pkg.evidence[0].path
        written = writes.layers.get(database, [])
        if len(written) > 1:
            if database not in history:
                history[database] = _database_history(sbom, view, database, written)
            index = _first_of_last_run((pkg.name, pkg.version), history[database])
            if index is not None and index < len(layers):
                out[pkg.id] = layers[index]
                continue
        digest = pkg.evidence[0].layer
        if digest is not None and digest in by_digest:
            out[pkg.id] = by_digest[digest]
    return out


def _database_history(
    sbom: Sbom, view: FsView, database: str, written: list[int]
) -> list[tuple[int, set[tuple[str, str]] | None]]:
    final = {
        (p.name, p.version) for p in sbom.packages if p.evidence and p.evidence[0].path == database
    }
    copies: list[tuple[int, set[tuple[str, str]] | None]] = []
    for index in written[:-1]:
        data = _copy_in_layer(view, index, database)
        copies.append((index, None if data is None else _listed(database, data)))
    copies.append((written[-1], final))
    return copies
