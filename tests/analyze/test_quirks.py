"""dive's whiteout rules, hardlinks, empty and corrupt images, file trees."""

from __future__ import annotations

import pytest

from imageforge.analyze import Change, analyze, file_tree
from imageforge.errors import DigestMismatch, InvalidArgument
from imageforge.layers import EntryType
from imageforge.oci import Descriptor, Digest
from imageforge.oci.mutate import Addendum, append_layers, empty_image
from imageforge.transports import BlobLayer

from .conftest import D, F, H, build_image


def test_whiteout_over_a_directory_counts_what_it_removes_for_dive() -> None:
    image = build_image(
        ("base", [("data", D, 0), ("data/x", F, 300), ("data/y", F, 400), ("keep", F, 50)]),
        ("rm", [(".wh.data", F, 0)]),
    )
    result = analyze(image)
    # dive: data/x 300 and data/y 400 seen once; the whiteout "data" seen once with the
    # size of the directory it removes (700). Nothing seen twice: no waste for dive.
    cumulative = {"data/x": 300, "data/y": 400, "keep": 50, "data": 700}
    assert result.dive.efficiency == sum(cumulative.values()) / sum(cumulative.values())
    assert result.dive.wasted_bytes == 0
    assert result.dive.user_wasted_percent == 0.0  # user size 0: no division by zero
    # imageforge: both files are unreachable.
    assert result.waste.wasted_bytes == 700
    assert result.waste.efficiency == 50 / 750
    assert [(w.path, w.how) for w in result.waste.paths] == [
        ("data/y", "removed"),
        ("data/x", "removed"),
    ]


def test_dive_counts_a_whiteout_over_an_implicitly_touched_directory_as_zero() -> None:
    image = build_image(
        ("base", [("d", D, 0), ("d/f", F, 10)]),
        ("add g", [("d/g", F, 20)]),  # no entry for d: dive's stacked d loses "is dir"
        ("rm d", [(".wh.d", F, 0)]),
        ("noise", [(".wh.nothere", F, 0), ("zz", F, 5)]),
    )
    result = analyze(image)
    cumulative = {"d/f": 10, "d/g": 20, "d": 0}  # zz: dive stops at the bad whiteout
    minimum = dict(cumulative)
    cumulative["nothere"] = 0
    assert result.dive.efficiency == sum(minimum.values()) / sum(cumulative.values())
    assert result.dive.wasted_bytes == 0
    assert len(result.dive.notes) == 1 and "'nothere'" in result.dive.notes[0]
    assert result.waste.wasted_bytes == 30


def test_hardlinked_content_stays_reachable() -> None:
    image = build_image(
        ("base", [("a", F, 1000), ("b", H, "a")]),
        ("rm a", [(".wh.a", F, 0)]),
    )
    result = analyze(image)
    assert result.waste.wasted_bytes == 0
    assert result.waste.efficiency == 1.0


def test_empty_image() -> None:
    result = analyze(build_image())
    assert result.layers == ()
    assert result.dive.efficiency == 1.0 and result.dive.wasted_bytes == 0
    assert result.waste.efficiency == 1.0 and result.waste.wasted_bytes == 0


@pytest.mark.parametrize("where", ["middle", "end"])
def test_a_corrupt_layer_is_named(where: str) -> None:
    blobs: dict[Digest, bytes] = {}
    image = build_image(
        ("one", [("a", F, 10)]),
        ("two", [("b", F, 50_000)]),
        ("three", [("c", F, 10)]),
        blobs=blobs,
    )
    digest = image.manifest().layers[1].digest
    raw = bytearray(blobs[digest])
    if where == "middle":
        raw[len(raw) // 2] ^= 0xFF
    else:
        del raw[-20:]
    blobs[digest] = bytes(raw)
    with pytest.raises((DigestMismatch, InvalidArgument)) as info:
        analyze(image)
    assert f"layer #2 ({digest})" in str(info.value)


def test_file_trees() -> None:
    image = build_image(
        ("base", [("etc", D, 0), ("etc/conf", F, 100), ("etc/old", F, 7)]),
        ("change", [("etc", D, 0), ("etc/conf", F, 200), ("etc/.wh.old", F, 0), ("new", F, 3)]),
    )
    result = analyze(image)
    layer = file_tree(result, 1)
    flat = {n.path: (n.change, n.size) for _, n in layer.walk()}
    assert flat == {
        "etc": (Change.UNCHANGED, 200),
        "etc/conf": (Change.MODIFIED, 200),
        "etc/old": (Change.REMOVED, 7),
        "new": (Change.ADDED, 3),
    }
    merged = file_tree(result)
    merged_flat = {n.path: (n.change, n.type, n.layer) for _, n in merged.walk()}
    assert merged_flat == {
        "etc": (Change.UNCHANGED, EntryType.DIR, 1),  # re-listed as it was
        "etc/conf": (Change.MODIFIED, EntryType.FILE, 1),
        "etc/old": (Change.REMOVED, EntryType.FILE, 0),
        "new": (Change.ADDED, EntryType.FILE, 1),
    }
    with pytest.raises(InvalidArgument, match="layer 3 does not exist"):
        file_tree(result, 2)


def test_paths_nested_deeper_than_the_recursion_limit() -> None:
    deep = "/".join(["d"] * 3000)
    image = build_image(
        ("base", [(f"{deep}/f", F, 10), (f"{deep}/g", F, 5)]),
        ("rm", [(f"{deep}/.wh.f", F, 0), (".wh.d", F, 0)]),
    )
    result = analyze(image)
    assert result.waste.wasted_bytes == 15
    assert result.dive.wasted_bytes == 10  # f: 10 + a 0-byte whiteout; d: implicit, 0
    tree = file_tree(result)
    assert max(depth for depth, _ in tree.walk()) == 3000
    removed = {
        n.path.rpartition("/")[2]: n.size for _, n in tree.walk() if n.change is Change.REMOVED
    }
    assert removed == {"f": 10, "g": 5}


def test_a_layer_that_is_not_what_the_config_says_is_named() -> None:
    good = build_image(("one", [("a", F, 10)]), ("two", [("b", F, 20)]))
    other = build_image(("one", [("a", F, 10)]), ("two", [("b", F, 21)]))
    second = other.layers()[1]
    wrong = BlobLayer(  # layer 2 of `other`, announced with the diff_id of `good`'s
        Descriptor(second.media_type, second.digest, second.size),
        good.layers()[1].diff_id,
        lambda _d: second.open_compressed(),
    )
    lying = append_layers(empty_image(), Addendum(other.layers()[0]), Addendum(wrong))
    with pytest.raises(DigestMismatch) as info:
        analyze(lying)
    assert f"layer #2 ({second.digest})" in str(info.value)
