"""The store names its folders once: every folder under a store root comes from
``StoreLayout``, the README's store layout lists each of them, and no other module spells
one out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imageforge.store import Store, StoreLayout
from imageforge.store import _layout as layout_module
from tests.conftest import REPO

SRC = REPO / "src" / "imageforge"
NAMES = [
    getattr(layout_module, n)
    for n in layout_module.__all__
    if n.isupper() and isinstance(getattr(layout_module, n), str)
]


def test_the_layout_is_absolute_and_the_store_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = Store(Path("relative"))
    assert store.layout == StoreLayout(tmp_path / "relative")
    assert store.layout.snapshots == tmp_path / "relative" / "snapshots"
    assert store.refs.path == store.layout.refs_db and store.lock.path == store.layout.lock
    assert store.blobs.blob_dir.absolute() == store.layout.blobs


def test_the_readme_lists_every_folder() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("The store's layout") :]
    section = section[: section.index("\n\n", section.index("```\n") + 4)]
    for name in NAMES:
        assert re.search(rf"^\s*{re.escape(name)}\b", section, re.M), f"README lacks {name}"


def test_no_other_module_spells_a_store_folder() -> None:
    # blobs/, ingest/ and registry/ are also the names of an OCI layout's, a blob store's
    # and the registry's own folders: only the names that are the local store's alone.
    own = ["snapshots", "build-cache", "cache-mounts", "context-views", "refs.db", "store.lock"]
    assert set(own) <= set(NAMES)
    found = []
    for path in SRC.rglob("*.py"):
        if path == Path(layout_module.__file__):
            continue
        text = path.read_text()
        found += [
            f"{path.relative_to(SRC)}: {n}"
            for n in own
            if re.search(rf'/\s*"{re.escape(n)}"', text)  # root / "name"
        ]
    assert found == []
