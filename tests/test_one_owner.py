"""One owner for each mechanism (issue 20): a new layer becomes a blob through one
function, and a store's snapshotter is made in one place."""

from __future__ import annotations

import re

from tests.conftest import REPO

SRC = REPO / "src" / "imageforge"


def _sources() -> dict[str, str]:
    return {str(p.relative_to(SRC)): p.read_text() for p in SRC.rglob("*.py")}


def test_one_ingest_layer() -> None:
    defined = [name for name, text in _sources().items() if "def ingest_layer(" in text]
    assert defined == ["layers/_ingest.py"]
    gone = ("def store_layer(", "def _write_layer(")
    assert [n for n, text in _sources().items() if any(g in text for g in gone)] == []


def test_the_overlay_snapshotter_is_made_in_one_place() -> None:
    made = [
        name
        for name, text in _sources().items()
        if re.search(r"OverlaySnapshotter\(", text) and name != "runtime/_snapshots.py"
    ]
    assert made == [], "use runtime.store_snapshotter(store)"
