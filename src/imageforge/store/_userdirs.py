"""Per-user directories outside any store: where caches that describe the machine or
the user's tools (not a store's content) are kept."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["user_cache_dir"]


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/imageforge``, else ``~/.cache/imageforge`` (not created here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imageforge"
