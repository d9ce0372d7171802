"""The overlay Differ passes the Differ contract on upper dirs made through real overlay
mounts (the overlay snapshotter's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.layers import Differ, OverlayDiffer
from imageforge.runtime import OverlaySnapshotter, Snapshotter
from imageforge.testing import DifferContract
from tests.conftest import requires_root

pytestmark = requires_root


class TestOverlayDiffer(DifferContract):
    @pytest.fixture
    def differ(self) -> Differ:
        return OverlayDiffer()

    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> Snapshotter:
        return OverlaySnapshotter(tmp_path / "snapshots")


class TestOverlayDifferUnderUserxattr(DifferContract):
    """The same over overlays mounted with ``userxattr`` (``user.overlay.*`` markers), as
    a rootless build mounts them."""

    @pytest.fixture
    def differ(self) -> Differ:
        return OverlayDiffer()

    @pytest.fixture
    def snapshotter(self, tmp_path: Path) -> Snapshotter:
        return OverlaySnapshotter(tmp_path / "snapshots", userxattr=True)
