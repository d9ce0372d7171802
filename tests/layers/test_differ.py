"""The Differ on upper dirs made by hand: overlay markers become OCI whiteouts."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from imageforge.errors import Unsupported
from imageforge.layers import EntryType, LayerReader, diff_upper
from tests.conftest import requires_root

pytestmark = requires_root


def _entries(upper: Path) -> dict[str, tuple[EntryType, dict[str, bytes]]]:
    buf = io.BytesIO()
    diff_upper(upper, buf)
    return {e.path: (e.type, dict(e.xattrs)) for e in LayerReader(io.BytesIO(buf.getvalue()))}


def test_markers_become_whiteouts_and_overlay_xattrs_stay_out(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    os.mknod(upper / "etc" / "gone", stat.S_IFCHR, os.makedev(0, 0))
    (upper / "var").mkdir()
    os.setxattr(upper / "var", "trusted.overlay.opaque", b"y")
    (upper / "var" / "new").write_text("n\n")
    (upper / "bin").mkdir()
    (upper / "bin" / "ping").write_bytes(b"\x7fELF")
    os.setxattr(upper / "bin" / "ping", "security.capability", b"\x01\x00\x00\x02" + b"\0" * 16)
    got = _entries(upper)
    assert got["etc/.wh.gone"][0] is EntryType.FILE
    assert "etc/gone" not in got
    assert list(got).index("var/.wh..wh..opq") > list(got).index("var")
    assert got["var"][1] == {}
    assert "security.capability" in got["bin/ping"][1]


def test_a_redirecting_upper_is_refused(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "moved").mkdir(parents=True)
    os.setxattr(upper / "moved", "trusted.overlay.redirect", b"/old")
    with pytest.raises(Unsupported, match="redirect_dir=off"):
        _entries(upper)
