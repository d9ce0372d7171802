"""FsView: the one filesystem view of an image, for sbom, analyze and the scanners."""

from __future__ import annotations

import io
from collections import Counter

import pytest

from imageforge.errors import ImageforgeError, InvalidArgument
from imageforge.layers import (
    BlobLayer,
    Entry,
    EntryType,
    FsView,
    LayerFile,
    whiteout_entry,
    write_layer,
)
from imageforge.oci import Descriptor, Digest, Image
from imageforge.oci.mutate import Addendum, append_layers, empty_image

F, D, L = EntryType.FILE, EntryType.DIR, EntryType.SYMLINK
Spec = list[tuple[Entry, bytes | None]]


class _Blobs:
    """Layer blobs in memory, counting how often each is opened."""

    def __init__(self) -> None:
        self.data: dict[Digest, bytes] = {}
        self.opened: Counter[Digest] = Counter()

    def open(self, digest: Digest) -> io.BytesIO:
        self.opened[digest] += 1
        return io.BytesIO(self.data[digest])


def _f(path: str, data: bytes) -> tuple[Entry, bytes]:
    return Entry(path, F, size=len(data)), data


def _image(blobs: _Blobs, *layers: Spec) -> Image:
    image: Image = empty_image()
    for spec in layers:
        out = io.BytesIO()
        info = write_layer(spec, out, mtime_clamp=0)
        blobs.data[info.digest] = out.getvalue()
        desc = Descriptor(info.media_type, info.digest, info.size)
        image = append_layers(image, Addendum(BlobLayer(desc, info.diff_id, blobs.open)))
    return image


def _history(blobs: _Blobs) -> Image:
    return _image(
        blobs,
        [
            (Entry("etc", D, mode=0o755), None),
            _f("etc/secret.pem", b"-----BEGIN PRIVATE KEY-----"),
            _f("etc/conf", b"v1"),
            _f("etc/keep", b"kept"),
            _f("twice", b"first"),
            _f("twice", b"second"),
        ],
        [
            (whiteout_entry("etc/secret.pem"), None),
            _f("etc/conf", b"v2"),
            (Entry("link", L, linkname="/etc/conf"), None),
        ],
    )


def test_every_entry_of_every_layer_with_content_in_one_read_of_each_layer() -> None:
    blobs = _Blobs()
    image = _history(blobs)
    view = FsView(image)
    seen: list[tuple[int, str, bytes]] = []
    files: list[LayerFile] = []
    for file in view.every_entry():
        seen.append((file.index, file.entry.path, file.read()))
        files.append(file)
    assert seen == [
        (0, "etc", b""),
        (0, "etc/secret.pem", b"-----BEGIN PRIVATE KEY-----"),  # deleted by layer 2
        (0, "etc/conf", b"v1"),  # overwritten by layer 2
        (0, "etc/keep", b"kept"),
        (0, "twice", b"first"),  # written again by its own layer
        (0, "twice", b"second"),
        (1, "etc/.wh.secret.pem", b""),
        (1, "etc/conf", b"v2"),
        (1, "link", b""),
    ]
    # the same pass indexed the view: nothing is read again to answer these
    survives = {(f.index, f.position): view.survives(f) for f in files}
    assert survives == {
        (0, 0): True,
        (0, 1): False,
        (0, 2): False,
        (0, 3): True,
        (0, 4): False,
        (0, 5): True,
        (1, 0): False,
        (1, 1): True,
        (1, 2): True,
    }
    assert sorted(view) == ["etc", "etc/conf", "etc/keep", "link", "twice"]
    assert view["etc/conf"].layer == 1
    assert set(blobs.opened.values()) == {1} and len(blobs.opened) == 2


def test_an_entry_is_readable_only_while_it_is_current() -> None:
    view = FsView(_history(_Blobs()))
    passed = view.every_entry()
    first = next(passed)
    next(passed)
    with pytest.raises(InvalidArgument, match="no longer current"):
        first.read()
    passed.close()


def test_merged_view_resolves_links_in_the_image_and_reads_each_layer_once() -> None:
    blobs = _Blobs()
    image = _history(blobs)
    with FsView(image) as view:
        assert view.resolve("link") == "etc/conf"
        assert view.implied("etc") is False and "etc/keep" in view
        view.load(["link", "etc/keep", "twice", "etc/secret.pem"])
        opened = dict(blobs.opened)  # one index pass and one content pass per layer
        assert view.read("link") == b"v2"
        assert view.read("etc/conf") == b"v2"
        assert view.read("etc/keep") == b"kept"
        assert view.read("twice") == b"second"
        assert dict(blobs.opened) == opened == {d: 2 for d in blobs.data}


def test_directories_only_implied_by_paths_below_them() -> None:
    view = FsView(_image(_Blobs(), [_f("opt/app/bin/run", b"#!/bin/sh\n")]))
    assert sorted(view) == ["opt/app/bin/run"]
    assert sorted(view.paths()) == ["opt", "opt/app", "opt/app/bin", "opt/app/bin/run"]
    assert view.implied("opt/app") and not view.implied("opt/app/bin/run")
    assert view.resolve("opt/app/../app/bin/run") == "opt/app/bin/run"


def test_a_damaged_layer_is_named_or_reported_and_left_out() -> None:
    blobs = _Blobs()
    image = _history(blobs)
    digest = image.manifest().layers[1].digest
    blobs.data[digest] = blobs.data[digest][:-30]
    with pytest.raises(ImageforgeError, match=rf"layer #2 \({digest}\)"):
        list(FsView(image).every_entry())
    reported: list[tuple[int, str]] = []
    view = FsView(image, on_bad_layer=lambda i, exc: reported.append((i, exc.message)))
    paths = [f.entry.path for f in view.every_entry()]
    assert paths[:6] == ["etc", "etc/secret.pem", "etc/conf", "etc/keep", "twice", "twice"]
    assert [i for i, _ in reported] == [1] and view.bad_layers == {1}
    assert view.read("etc/conf") == b"v1" and "etc/secret.pem" in view
