"""The filesystem of an image, read from its layers without unpacking them: the one view
``sbom``, ``analyze`` and the scanners read images through.

Two ways through the layers, each reading every layer once:

- The *index pass* (:meth:`FsView.layer_diffs`; run by the first question about
  metadata) reads headers only, up to ``workers`` layers at once, and applies them in
  order with their whiteouts: the merged final filesystem (path -> :class:`FsNode`, with
  the layer each path comes from) and what each layer changed (:class:`LayerDiff`).
  Content is read afterwards by :meth:`FsView.load` (or on demand by :meth:`FsView.read`
  and :meth:`FsView.open`): the requested paths, symlinks resolved inside the image, in
  ONE pass per layer that holds any of them. Small files are kept in memory, larger ones
  spooled to a private temporary directory, so memory stays bounded.
- The *entry pass* (:meth:`FsView.every_entry`) gives every entry of every layer in
  order, its content readable while it is current, including files a later layer deletes
  or overwrites (what a secret or licence scanner must see). A view not indexed yet is
  indexed by the same pass; afterwards :meth:`FsView.survives` says whether an entry is
  what the final filesystem shows.

A damaged layer (corrupt compression, a truncated tar, a blob or tar that does not hash
to what the image says) raises an error naming it by number and digest; with
``on_bad_layer`` it is reported there once instead and the view is built from the other
layers.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from imageforge.errors import ImageforgeError, InvalidArgument, NotFound
from imageforge.layers._inroot import PathNode, resolve_in_view
from imageforge.layers._merge import (
    FsNode,
    LayerDiff,
    Merger,
    check_diff_id,
    layer_entries,
    naming_layer,
    read_layer,
)
from imageforge.layers._model import Entry, EntryType
from imageforge.layers._read import LayerReader
from imageforge.oci import Image, Layer
from imageforge.progress import NULL_PROGRESS, ProgressSink

__all__ = ["IN_MEMORY_LIMIT", "BadLayer", "FsView", "LayerFile", "flatten", "walk_layers"]

IN_MEMORY_LIMIT: Final = 1 << 20
"""Files up to this size are kept in memory once read; larger ones go to a temporary file."""

BadLayer = Callable[[int, ImageforgeError], None]
"""Told once about each layer that cannot be read: its 0-based index and the error (which
names the layer by number and digest)."""


@dataclass(frozen=True, slots=True)
class _ImpliedDir:
    """A directory no layer lists but the paths below it imply."""

    kind: str = "dir"
    linkname: str = ""


_IMPLIED_DIR: Final = _ImpliedDir()


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


class LayerFile:
    """One entry of one layer, as :meth:`FsView.every_entry` reaches it: ``index`` of the
    layer (0-based), ``position`` of the entry in the layer's tar, the :class:`Entry`.
    :meth:`read` gives a regular file's content while the entry is current."""

    __slots__ = ("_reader", "entry", "index", "position")

    def __init__(self, index: int, position: int, entry: Entry, reader: LayerReader) -> None:
        self.index = index
        self.position = position
        self.entry = entry
        self._reader: LayerReader | None = reader

    def read(self, n: int = -1, /) -> bytes:
        """At most ``n`` bytes of the content (all that is left with ``n < 0``), ``b""`` at
        its end; only until the pass moves to the next entry."""
        if self._reader is None:
            raise InvalidArgument(
                f"{self.entry.path!r} of layer #{self.index + 1} is no longer current: read "
                "an entry's content before asking for the next entry"
            )
        return self._reader.read(n)

    def __repr__(self) -> str:
        return f"LayerFile(#{self.index + 1}, {self.position}, {self.entry.path!r})"


class FsView(Mapping[str, FsNode]):
    """The merged filesystem of ``image``: a read-only mapping of normalised path ->
    :class:`FsNode` (the paths the layers list), plus directories only implied by paths
    below them (:meth:`paths`, :meth:`implied`), symlink resolution inside the image
    (:meth:`resolve`), content (:meth:`load`, :meth:`read`, :meth:`open`) and every entry
    of every layer (:meth:`every_entry`). Nothing is read before it is asked for. Use as
    a context manager, or call :meth:`close`, to drop content read and spooled files."""

    def __init__(
        self,
        image: Image,
        *,
        on_bad_layer: BadLayer | None = None,
        progress: ProgressSink | None = None,
        progress_key: str = "fs",
        memory_limit: int = IN_MEMORY_LIMIT,
        workers: int = 2,
    ) -> None:
        self.image = image
        self.layers: Sequence[Layer] = image.layers()
        self._on_bad = on_bad_layer
        self._progress = progress or NULL_PROGRESS
        self._key = progress_key
        self._memory_limit = memory_limit
        self._workers = max(1, workers)
        self._nodes: dict[str, FsNode] | None = None
        self._implied: set[str] | None = None
        self._bad: set[int] = set()
        self._memory: dict[str, bytes] = {}
        self._spooled: dict[str, Path] = {}
        self._tmp: Path | None = None
        # (layer, path) -> position of the last entry, for paths a layer writes twice
        self._rewritten: dict[tuple[int, str], int] = {}

    # -- layers that cannot be read --------------------------------------------------
    @property
    def bad_layers(self) -> frozenset[int]:
        """The layers left out because they could not be read (with ``on_bad_layer``)."""
        return frozenset(self._bad)

    def _report(self, index: int, exc: ImageforgeError) -> None:
        assert self._on_bad is not None
        if index not in self._bad:
            self._bad.add(index)
            self._on_bad(index, exc)

    # -- the index pass ----------------------------------------------------------------
    def _headers(self, index: int) -> list[Entry]:
        layer = self.layers[index]
        entries, info = layer_entries(layer, index)
        check_diff_id(layer, index, info)
        return entries

    def layer_diffs(self) -> Generator[LayerDiff, None, None]:
        """The index pass: each layer's :class:`LayerDiff`, bottom first, from one header
        pass per layer (up to ``workers`` layers read at once, applied in order). When
        it ends the view holds the merged filesystem."""
        merger = Merger()
        key = f"{self._key}-index"
        self._progress.start(key, "indexing layers", len(self.layers), "layers")
        finished = False
        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            futures = [pool.submit(self._headers, i) for i in range(len(self.layers))]
            try:
                for index, future in enumerate(futures):
                    try:
                        entries = future.result()
                    except ImageforgeError as exc:
                        if self._on_bad is None:
                            raise
                        self._report(index, exc)
                        continue
                    finally:
                        self._progress.advance(key)
                    yield merger.apply(index, entries)
                finished = True
            finally:
                for future in futures:
                    future.cancel()
                self._progress.done(key, failed=not finished)
        self._set_index(merger)

    def _set_index(self, merger: Merger) -> None:
        self._nodes = merger.nodes
        self._implied = None

    def _index(self) -> dict[str, FsNode]:
        if self._nodes is None:
            for _ in self.layer_diffs():
                pass
        nodes = self._nodes
        assert nodes is not None
        return nodes

    # -- metadata ----------------------------------------------------------------------
    @property
    def nodes(self) -> Mapping[str, FsNode]:
        """The merged filesystem as a plain mapping (the fastest way to ask many paths)."""
        return self._index()

    def __getitem__(self, path: str) -> FsNode:
        return self._index()[path]

    def __contains__(self, path: object) -> bool:
        return path in self._index()

    def __iter__(self) -> Iterator[str]:
        return iter(self._index())

    def __len__(self) -> int:
        return len(self._index())

    def _implied_dirs(self) -> set[str]:
        if self._implied is None:
            implied: set[str] = set()
            for path in self._index():
                parent = _parent(path)
                while parent and parent not in implied:
                    implied.add(parent)
                    parent = _parent(parent)
            self._implied = implied
        return self._implied

    def implied(self, path: str) -> bool:
        """Whether ``path`` is a directory no layer lists but paths below it imply (it
        exists once the layers are unpacked, ``0755 root:root`` as runtimes make it)."""
        return path not in self._index() and path in self._implied_dirs()

    def paths(self) -> Iterator[str]:
        """Every path of the merged filesystem, implied directories included."""
        nodes = self._index()
        yield from nodes
        yield from (p for p in self._implied_dirs() if p not in nodes)

    def _lookup(self, path: str) -> PathNode | None:
        node = self._index().get(path)
        if node is not None:
            return node
        return _IMPLIED_DIR if path in self._implied_dirs() else None

    def resolve(self, path: str, *, follow_last: bool = True) -> str | None:
        """``path`` with its symlinks followed inside the image (an absolute target starts
        at the image's root, ``..`` stops there); None when it leads nowhere."""
        return resolve_in_view(self._lookup, path, follow_last=follow_last)

    # -- content -----------------------------------------------------------------------
    def read(self, path: str) -> bytes:
        """The content of regular file ``path`` (symlinks followed inside the image);
        :class:`NotFound` when it is not a regular file."""
        self._need(path)
        data = self._memory.get(path)
        return data if data is not None else self._spooled[path].read_bytes()

    def open(self, path: str) -> BinaryIO:
        """As :meth:`read`, as a seekable binary stream."""
        self._need(path)
        data = self._memory.get(path)
        return io.BytesIO(data) if data is not None else self._spooled[path].open("rb")

    def _need(self, path: str) -> None:
        if path in self._memory or path in self._spooled:
            return
        real = self.resolve(path)
        node = None if real is None else self._index().get(real)
        if node is None or node.kind != "file":
            raise NotFound(f"{path!r} is not a regular file of the image")
        self.load([path])
        if path not in self._memory and path not in self._spooled:
            raise NotFound(f"{path!r} could not be read from its layer")

    def load(self, paths: Iterable[str]) -> None:
        """Read the content of ``paths`` (symlinks followed inside the image; paths that
        are not regular files are ignored) in one pass per layer holding any."""
        nodes = self._index()
        # layer -> {member path in that layer: [view paths served by it]}
        wanted: dict[int, dict[str, list[str]]] = {}
        for path in paths:
            real = self.resolve(path)
            if real is None:
                continue
            node = nodes.get(real)
            if node is None or node.type not in (EntryType.FILE, EntryType.HARDLINK):
                continue
            if real in self._memory or real in self._spooled:
                self._alias(path, real)
                continue
            member = node.linkname if node.type is EntryType.HARDLINK else real
            served = wanted.setdefault(node.layer, {}).setdefault(member, [])
            served.extend(dict.fromkeys([real, path]))
        if not wanted:
            return
        key = f"{self._key}-read"
        self._progress.start(key, "reading files", len(wanted), "layers")
        for index in sorted(wanted):
            self._read_layer(index, wanted[index])
            self._progress.advance(key)
        self._progress.done(key)

    def _alias(self, path: str, real: str) -> None:
        if path == real:
            return
        if real in self._memory:
            self._memory[path] = self._memory[real]
        else:
            self._spooled[path] = self._spooled[real]

    def _read_layer(self, index: int, members: dict[str, list[str]]) -> None:
        layer = self.layers[index]
        try:
            with naming_layer(layer, index), read_layer(layer, index) as reader:
                for entry in reader:
                    targets = members.get(entry.path)
                    if targets is None or entry.type is not EntryType.FILE:
                        continue
                    # The last entry for a path wins, as when the layer is applied.
                    if entry.size <= self._memory_limit:
                        data = reader.read()
                        for t in targets:
                            self._spooled.pop(t, None)
                            self._memory[t] = data
                    else:
                        spool = self._spool_path()
                        with spool.open("wb") as out:
                            while chunk := reader.read(1 << 20):
                                out.write(chunk)
                        for t in targets:
                            self._memory.pop(t, None)
                            self._spooled[t] = spool
                reader.finish()
        except ImageforgeError as exc:
            for targets in members.values():  # never serve content of a damaged layer
                for t in targets:
                    self._memory.pop(t, None)
                    self._spooled.pop(t, None)
            if self._on_bad is None:
                raise
            self._report(index, exc)

    @property
    def spool_dir(self) -> Path | None:
        """The private directory big files are spooled to (None before the first)."""
        return self._tmp

    def _spool_path(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="imageforge-fsview-"))
            # also removed when the view is dropped without close()
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        fd, name = tempfile.mkstemp(dir=self._tmp)
        os.close(fd)
        return Path(name)

    def close(self) -> None:
        """Drop content read and remove spooled files (metadata stays)."""
        self._memory.clear()
        self._spooled.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> FsView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the entry pass ----------------------------------------------------------------
    def every_entry(self) -> Generator[LayerFile, None, None]:
        """Every entry of every layer, bottom layer first and in tar order within a
        layer, whiteouts included, each layer read once; a regular file's content is
        readable through :meth:`LayerFile.read` until the next entry is asked for. A
        view not indexed yet is indexed by this pass (no second read). With
        ``on_bad_layer``, a layer that turns out damaged is reported (after the entries
        read before the damage) and left out of the merged filesystem."""
        merger = Merger() if self._nodes is None else None
        for index, layer in enumerate(self.layers):
            entries: list[Entry] = []
            seen: set[str] = set()
            try:
                with naming_layer(layer, index), read_layer(layer, index) as reader:
                    for position, entry in enumerate(reader):
                        if entry.path in seen:
                            self._rewritten[(index, entry.path)] = position
                        seen.add(entry.path)
                        if merger is not None:
                            entries.append(entry)
                        current = LayerFile(index, position, entry, reader)
                        try:
                            yield current
                        finally:
                            current._reader = None
                    check_diff_id(layer, index, reader.finish())
            except ImageforgeError as exc:
                if self._on_bad is None:
                    raise
                self._report(index, exc)
                continue
            if merger is not None:
                merger.apply(index, entries)
        if merger is not None:
            self._set_index(merger)

    def survives(self, file: LayerFile) -> bool:
        """Whether ``file`` (from :meth:`every_entry`) is what the final filesystem shows
        at its path: False when a later layer deleted or overwrote it, when its own layer
        wrote the path again, and for whiteouts."""
        node = self._index().get(file.entry.path)
        if node is None or node.layer != file.index:
            return False
        last = self._rewritten.get((file.index, file.entry.path), file.position)
        return last == file.position


def flatten(image: Image) -> FsView:
    """The merged filesystem of ``image`` (whiteouts applied), indexed now; a damaged
    layer raises an error naming it."""
    view = FsView(image)
    view._index()
    return view


def walk_layers(image: Image, *, workers: int = 2) -> Iterator[LayerDiff]:
    """The :class:`LayerDiff` of each layer of ``image``, bottom first (the index pass of
    :meth:`FsView.layer_diffs`). A layer whose tar does not hash to the config's diff_id
    raises :class:`~imageforge.errors.DigestMismatch` naming it."""
    return FsView(image, workers=workers).layer_diffs()
