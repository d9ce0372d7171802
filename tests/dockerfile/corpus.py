"""Where the shared, read-only test corpus lives (``../shared/corpus`` beside the clone)."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"


def corpus_dir(name: str) -> Path:
    """The corpus folder ``name``; skips (saying why) only when the corpus is absent."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(
            f"shared corpus not found at {path} (expected ../shared/corpus beside the repo)"
        )
    return path
