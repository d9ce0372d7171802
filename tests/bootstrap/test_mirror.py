"""apt_mirror on hand-written APT sources: one-line and deb822, in APT's file order,
snapshot archives and non-Debian repositories skipped, a clear error when none fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageforge.bootstrap import apt_mirror, is_debian_mirror, source_uris
from imageforge.errors import InvalidArgument, Unavailable


def _etc(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "apt"
    (root / "sources.list.d").mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def test_one_line_sources_skip_other_repositories_and_options(tmp_path: Path) -> None:
    root = _etc(
        tmp_path,
        {
            "sources.list": "# deb http://commented.example/debian bookworm main\n"
            "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] "
            "http://ftp.de.debian.org/debian/ bookworm main contrib\n"
            "deb http://security.debian.org/debian-security bookworm-security main\n",
        },
    )
    assert apt_mirror(root) == "http://ftp.de.debian.org/debian"


def test_deb822_sources_like_this_machine(tmp_path: Path) -> None:
    root = _etc(
        tmp_path,
        {
            "sources.list.d/debian.sources": "Types: deb\n"
            "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
            "URIs: http://deb.debian.org/debian\n"
            "Suites: bookworm bookworm-updates\n"
            "Components: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
            "\n"
            "Types: deb\n"
            "URIs: http://deb.debian.org/debian-security\n"
            "Suites: bookworm-security\n"
            "Components: main\n",
        },
    )
    assert apt_mirror(root) == "http://deb.debian.org/debian"
    assert source_uris(root) == [
        "http://deb.debian.org/debian",
        "http://deb.debian.org/debian-security",
    ]


def test_snapshot_archives_disabled_stanzas_and_other_suffixes_are_skipped(
    tmp_path: Path,
) -> None:
    root = _etc(
        tmp_path,
        {
            "sources.list": "deb http://snapshot.debian.org/archive/debian/20250520T000000Z "
            "bookworm main\n",
            "sources.list.d/a.sources": "Types: deb\n"
            "URIs: https://deb.nodesource.com/node_20.x\n"
            "Suites: nodistro\n"
            "\n"
            "Enabled: no\n"
            "Types: deb\n"
            "URIs: http://disabled.example/debian\n"
            "Suites: bookworm\n",
            "sources.list.d/b.list.disabled": "deb http://ignored.example/debian bookworm main\n",
            "sources.list.d/c.list": "deb http://mirror.example.org/pub/debian bookworm main\n",
        },
    )
    assert apt_mirror(root) == "http://mirror.example.org/pub/debian"
    assert "http://ignored.example/debian" not in source_uris(root)


def test_files_are_read_in_apts_order(tmp_path: Path) -> None:
    root = _etc(
        tmp_path,
        {
            "sources.list.d/20-second.list": "deb http://second.example/debian bookworm main\n",
            "sources.list.d/10-first.sources": "Types: deb\n"
            "URIs: http://first.example/debian\n"
            "Suites: bookworm\n",
        },
    )
    assert apt_mirror(root) == "http://first.example/debian"


def test_no_debian_mirror_is_unavailable_with_a_hint(tmp_path: Path) -> None:
    root = _etc(
        tmp_path,
        {"sources.list": "deb http://archive.ubuntu.com/ubuntu jammy main\n"},
    )
    with pytest.raises(Unavailable, match="no Debian mirror") as info:
        apt_mirror(root)
    assert info.value.hint is not None and "--mirror" in info.value.hint
    assert "archive.ubuntu.com" in info.value.message
    with pytest.raises(Unavailable, match="no Debian mirror"):
        apt_mirror(tmp_path / "nothing-here")


def test_malformed_lines_name_file_and_line(tmp_path: Path) -> None:
    root = _etc(tmp_path, {"sources.list": "\n# ok\ndeb http://deb.debian.org/debian\n"})
    with pytest.raises(InvalidArgument) as info:
        apt_mirror(root)
    assert str(info.value).startswith(f"{root}/sources.list:3: ")
    root = _etc(
        tmp_path / "b",
        {"sources.list.d/x.sources": "Types: deb\nSuites: bookworm\n\nTypes: deb\nbroken\n"},
    )
    with pytest.raises(InvalidArgument) as info:
        apt_mirror(root)
    assert str(info.value).startswith(f"{root}/sources.list.d/x.sources:1: ")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://deb.debian.org/debian", True),
        ("https://deb.debian.org/debian/", True),
        ("file:///srv/mirror/debian", True),
        ("http://deb.debian.org/debian-security", False),
        ("http://snapshot.debian.org/archive/debian/20250520T000000Z", False),
        ("https://snapshot.debian.org/archive/debian", False),
        ("http://example.org/archive/debian/20250520T000000Z/debian", False),
        ("cdrom:[Debian GNU/Linux]/debian", False),
        ("mirror+file:///etc/apt/mirrors/debian", False),
    ],
)
def test_is_debian_mirror(uri: str, expected: bool) -> None:
    assert is_debian_mirror(uri) is expected


def test_this_machines_sources_name_a_mirror() -> None:
    mirror = apt_mirror()
    assert is_debian_mirror(mirror) and not mirror.endswith("/")
