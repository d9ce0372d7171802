from __future__ import annotations

import io

import pytest

from imageforge.errors import DigestMismatch, InvalidArgument, NotFound
from imageforge.layers import Entry, EntryType, flatten, walk_layers, write_layer
from imageforge.oci import Descriptor, Digest, Image
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.transports import BlobLayer

Spec = list[tuple[str, EntryType, bytes | None]]


def _image(*layers: Spec, blobs: dict[Digest, bytes] | None = None) -> Image:
    store: dict[Digest, bytes] = {} if blobs is None else blobs
    image: Image = empty_image()
    for spec in layers:
        out = io.BytesIO()
        entries = [
            (
                Entry(
                    path,
                    kind,
                    size=len(data or b""),
                    mode=0o755 if kind is EntryType.DIR else 0o644,
                ),
                data,
            )
            for path, kind, data in spec
        ]
        info = write_layer(entries, out, mtime_clamp=0)
        store[info.digest] = out.getvalue()
        layer = BlobLayer(
            Descriptor(info.media_type, info.digest, info.size),
            info.diff_id,
            lambda d: io.BytesIO(store[d]),
        )
        image = append_layers(image, Addendum(layer))
    return image


F, D = EntryType.FILE, EntryType.DIR


def test_whiteouts_opaque_dirs_and_replacement() -> None:
    image = _image(
        [
            ("etc", D, None),
            ("etc/keep", F, b"k"),
            ("etc/gone", F, b"g"),
            ("var", D, None),
            ("var/cache", D, None),
            ("var/cache/a", F, b"a"),
            ("opt", D, None),
            ("opt/x", F, b"x"),
        ],
        [
            ("etc/.wh.gone", F, b""),
            ("var/cache/.wh..wh..opq", F, b""),
            ("var/cache/b", F, b"bb"),
            ("opt", F, b"now a file"),
        ],
        [("etc/keep", F, b"changed")],
    )
    view = flatten(image)
    assert "etc/gone" not in view
    assert "var/cache/a" not in view and view["var/cache/b"].size == 2
    assert view["opt"].type is F and "opt/x" not in view
    assert view["etc/keep"].layer == 2 and view["etc"].layer == 0
    assert view.read("etc/keep") == b"changed"
    assert view.read("var/cache/b") == b"bb"
    with pytest.raises(NotFound):
        view.read("etc")


def test_corrupt_layer_is_named() -> None:
    blobs: dict[Digest, bytes] = {}
    image = _image([("a", F, b"1")], [("b", F, b"2" * 5000)], blobs=blobs)
    digest = image.manifest().layers[1].digest
    raw = bytearray(blobs[digest])
    raw[len(raw) // 2] ^= 0xFF
    blobs[digest] = bytes(raw)
    with pytest.raises((DigestMismatch, InvalidArgument)) as info:
        flatten(image)
    assert str(digest) in str(info.value)


def test_walk_layers_says_what_each_layer_added_modified_removed_and_hid() -> None:
    image = _image(
        [
            ("etc", D, None),
            ("etc/a", F, b"a" * 10),
            ("etc/b", F, b"b" * 20),
            ("opt", D, None),
            ("opt/x", F, b"x" * 30),
            ("var", D, None),
            ("var/y", F, b"y" * 40),
        ],
        [
            ("etc/.wh.a", F, b""),  # removed
            ("etc/b", F, b"B" * 5),  # modified
            ("opt/.wh..wh..opq", F, b""),  # opt/x removed ...
            ("opt/z", F, b"z"),  # ... and opt/z added
            ("var", F, b"file now"),  # var/y removed under a non-directory
            ("new", F, b"n"),
            ("new", F, b"nn"),  # written twice: the first is hidden
        ],
    )
    diffs = list(walk_layers(image))
    assert [d.index for d in diffs] == [0, 1]
    assert {n.path for n in diffs[0].added} == {
        "etc",
        "etc/a",
        "etc/b",
        "opt",
        "opt/x",
        "var",
        "var/y",
    }
    second = diffs[1]
    assert {n.path for n in second.added} == {"opt/z", "new"}
    assert {(o.path, o.size, n.size) for o, n in second.modified} == {
        ("etc/b", 20, 5),
        ("var", 0, 8),
    }
    assert {n.path for n in second.removed} == {"etc/a", "opt/x", "var/y"}
    hidden = sorted((n.path, n.layer, n.size) for n in second.hidden)
    assert hidden == [
        ("etc/a", 0, 10),
        ("etc/b", 0, 20),
        ("new", 1, 1),
        ("opt/x", 0, 30),
        ("var", 0, 0),
        ("var/y", 0, 40),
    ]
    assert len(second.entries) == 7
    view = flatten(image)
    assert sorted(view) == ["etc", "etc/b", "new", "opt", "opt/z", "var"]
    assert view["new"].size == 2


def test_whiteout_of_a_directory_removes_its_whole_subtree_only() -> None:
    image = _image(
        [("a", D, None), ("a/b", D, None), ("a/b/c", F, b"c"), ("ab", F, b"keep")],
        [(".wh.a", F, b"")],
    )
    diffs = list(walk_layers(image, workers=1))
    assert {n.path for n in diffs[1].removed} == {"a", "a/b", "a/b/c"}
    assert sorted(flatten(image)) == ["ab"]


def test_directories_only_implied_by_their_files_are_removed_and_replaced_whole() -> None:
    image = _image(
        [("x/y/z", F, b"1"), ("p/q", F, b"2"), ("keep/k", F, b"3")],
        [(".wh.x", F, b""), ("p", F, b"file over an implied directory")],
    )
    second = list(walk_layers(image))[1]
    assert {n.path for n in second.removed} == {"x/y/z", "p/q"}
    assert sorted(flatten(image)) == ["keep/k", "p"]


def test_read_layer_closes_the_blob_it_opened() -> None:
    from imageforge.layers import read_layer

    out = io.BytesIO()
    info = write_layer([(Entry("a", EntryType.FILE, size=1), b"x")], out, compression="gzip")
    opened: list[io.BytesIO] = []

    def opener(_: Digest) -> io.BytesIO:
        opened.append(io.BytesIO(out.getvalue()))
        return opened[-1]

    layer = BlobLayer(Descriptor(info.media_type, info.digest, info.size), info.diff_id, opener)
    with read_layer(layer, 0) as reader:
        assert [e.path for e in reader] == ["a"]
    assert len(opened) == 1 and opened[0].closed
