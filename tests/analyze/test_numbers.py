"""Both sets of numbers on images with known waste, against values worked out by hand
from the definitions (dive's, as its efficiency.go computes them, and imageforge's)."""

from __future__ import annotations

from imageforge.analyze import analyze

from .conftest import (
    ADD_BIG,
    BASE,
    CONF2,
    CONF3,
    MB10,
    REPLACE,
    RM_BIG,
    known_waste_image,
)


def test_dive_numbers_on_known_waste() -> None:
    result = analyze(known_waste_image())
    dive = result.dive
    # Leaves per path (dive): sizes in each layer that shows the path.
    #   bin/sh 1000 | etc/conf 100, 200, 300 | tmp/big 10 MB, then a whiteout over a
    #   regular file: 0 (dive's quirk) | opt/app/a 5000, opt/app/b 7000, opt/app/c 900
    #   (dive ignores the opaque whiteout, so a and b are seen once each).
    cumulative = {
        "bin/sh": 1000,
        "etc/conf": 100 + 200 + 300,
        "tmp/big": MB10 + 0,
        "opt/app/a": 5000,
        "opt/app/b": 7000,
        "opt/app/c": 900,
    }
    minimum = {
        "bin/sh": 1000,
        "etc/conf": 100,
        "tmp/big": 0,
        "opt/app/a": 5000,
        "opt/app/b": 7000,
        "opt/app/c": 900,
    }
    seen_twice_or_more = ["etc/conf", "tmp/big"]
    assert dive.efficiency == sum(minimum.values()) / sum(cumulative.values())
    assert dive.wasted_bytes == sum(cumulative[p] for p in seen_twice_or_more) == MB10 + 600
    layer_sizes = [1000 + 100, MB10 + 5000 + 7000, 0, 200, 300, 900]
    assert list(dive.layer_sizes) == layer_sizes
    assert dive.image_size == sum(layer_sizes) == result.image_size
    user_size = sum(layer_sizes) - layer_sizes[0]
    assert dive.user_wasted_percent == dive.wasted_bytes / user_size
    assert [(d.path, d.count, d.cumulative, d.minimum) for d in dive.inefficiencies] == [
        ("tmp/big", 2, MB10, 0),
        ("etc/conf", 3, 600, 100),
    ]
    assert dive.notes == ()


def test_imageforge_numbers_on_known_waste() -> None:
    result = analyze(known_waste_image())
    waste = result.waste
    # Unreachable at the end: the 10 MB file, the first two versions of etc/conf and
    # what the opaque directory hid.
    unreachable = [MB10, 100, 200, 5000, 7000]
    assert waste.wasted_bytes == sum(unreachable)
    reachable = 1000 + 300 + 900  # bin/sh, etc/conf v3, opt/app/c
    assert waste.reachable_bytes == reachable
    written = result.image_size
    assert written == reachable + sum(unreachable)
    assert waste.efficiency == reachable / written
    assert waste.user_wasted_percent == sum(unreachable) / (written - 1100)
    got = [(w.path, w.size, w.created_by, w.hidden_by, w.how) for w in waste.paths]
    assert got == [
        ("tmp/big", MB10, ADD_BIG, RM_BIG, "removed"),
        ("opt/app/b", 7000, ADD_BIG, REPLACE, "removed"),
        ("opt/app/a", 5000, ADD_BIG, REPLACE, "removed"),
        ("etc/conf", 200, CONF2, CONF3, "overwritten"),
        ("etc/conf", 100, BASE, CONF2, "overwritten"),
    ]
    steps = [(s.created_in, s.hidden_in, s.bytes, s.files) for s in waste.by_step]
    assert steps == [(1, 2, MB10, 1), (1, 5, 12000, 2), (3, 4, 200, 1), (0, 3, 100, 1)]
    # dive's count includes the kept copy of etc/conf (300) and none of the directory
    # replaced; imageforge's counts exactly what cannot be reached.
    assert result.dive.wasted_bytes - waste.wasted_bytes == 300 - 12000


def test_per_layer_report() -> None:
    result = analyze(known_waste_image())
    rows = [
        (r.created_by, r.size, r.added, r.modified, r.removed, r.wasted_bytes)
        for r in result.layers
    ]
    assert rows == [
        (BASE, 1100, 4, 0, 0, 100),
        # tmp, tmp/big, opt, opt/app, opt/app/a, opt/app/b are new
        (ADD_BIG, MB10 + 12000, 6, 0, 0, MB10 + 12000),
        (RM_BIG, 0, 0, 0, 1, 0),  # tmp re-listed as it was: not a modification
        (CONF2, 200, 0, 1, 0, 200),
        (CONF3, 300, 0, 1, 0, 0),
        (REPLACE, 900, 1, 0, 2, 0),
    ]
    assert [b.path for b in result.biggest_files] == ["bin/sh", "opt/app/c", "etc/conf"]
    assert [(b.path, b.size) for b in result.biggest_directories][:2] == [
        ("bin", 1000),
        ("opt", 900),
    ]
