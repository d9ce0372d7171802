"""The runtime's mount points: removed from a step's upper dir only when they are empty
stand-ins the runtime made (the layer and the committed snapshot then hold none)."""

from __future__ import annotations

from pathlib import Path

from imageforge.layers import OverlayDiffer


def _left(upper: Path) -> set[str]:
    return {str(p.relative_to(upper)) for p in upper.rglob("*")}


def test_runtime_stubs_are_dropped_only_when_empty(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "proc").mkdir(parents=True)
    (upper / "etc").mkdir()
    (upper / "etc" / "hosts").write_text("")
    (upper / "etc" / "resolv.conf").write_text("nameserver 1.1.1.1\n")
    (upper / "dev").mkdir()
    (upper / "dev" / "kept").write_text("x")
    OverlayDiffer().drop_unchanged(
        upper, [], stand_ins=["etc/hosts", "etc/resolv.conf", "proc", "dev"]
    )
    got = _left(upper)
    assert "proc" not in got and "etc/hosts" not in got
    assert "etc/resolv.conf" in got and "dev" in got and "dev/kept" in got


def test_a_parent_the_runtime_made_goes_once_its_stubs_are_gone(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "hostname").write_text("")
    OverlayDiffer().drop_unchanged(upper, [], stand_ins=["etc/hostname", "etc"])
    assert _left(upper) == set()
