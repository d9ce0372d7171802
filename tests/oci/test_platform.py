from __future__ import annotations

import platform as host

import pytest

from imageforge.errors import InvalidArgument
from imageforge.oci import Platform, host_platform


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("linux/arm64", "linux/arm64/v8"),
        ("linux/aarch64", "linux/arm64/v8"),
        ("linux/arm64/v8", "linux/arm64/v8"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/v6", "linux/arm/v6"),
        ("arm64", "linux/arm64/v8"),
        ("LINUX/AMD64", "linux/amd64"),
    ],
)
def test_parse_normalises(text: str, shown: str) -> None:
    assert str(Platform.parse(text)) == shown


@pytest.mark.parametrize("bad", ["", "linux/", "/amd64", "a/b/c/d"])
def test_invalid(bad: str) -> None:
    with pytest.raises(InvalidArgument, match="platform"):
        Platform.parse(bad)


def test_matching_ignores_spelling_not_variant() -> None:
    assert Platform("linux", "aarch64").matches(Platform.parse("linux/arm64/v8"))
    assert not Platform("linux", "arm", "v6").matches(Platform.parse("linux/arm/v7"))
    assert not Platform("linux", "amd64").matches(Platform.parse("linux/arm64"))


def test_json_round_trip() -> None:
    p = Platform("windows", "amd64", "", "10.0.17763", ("win32k",))
    assert Platform.from_json(p.to_json()) == p


def test_host() -> None:
    expected = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
    assert host_platform().architecture == expected
