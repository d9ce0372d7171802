from __future__ import annotations

import platform as host

import pytest

from imageforge.dockerfile import predefined_args
from imageforge.errors import InvalidArgument
from imageforge.oci import Platform, host_platform
from imageforge.runtime._seccomp import go_arch


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


@pytest.mark.parametrize(
    ("machine", "platform", "buildplatform"),
    [
        ("x86_64", "linux/amd64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8", "linux/arm64"),
        ("armv7l", "linux/arm/v7", "linux/arm/v7"),
        ("armv6l", "linux/arm/v6", "linux/arm/v6"),
        ("s390x", "linux/s390x", "linux/s390x"),
    ],
)
def test_one_host_platform_for_images_and_buildplatform(
    monkeypatch: pytest.MonkeyPatch, machine: str, platform: str, buildplatform: str
) -> None:
    monkeypatch.setattr(host, "machine", lambda: machine)
    assert str(host_platform()) == platform
    # BuildKit spells BUILDPLATFORM in containerd's normal form: no v8 on arm64
    assert predefined_args()["BUILDPLATFORM"] == buildplatform


@pytest.mark.parametrize(
    ("machine", "arch"),
    [
        ("i586", "386"),
        ("i686", "386"),
        ("loongarch64", "loong64"),
        ("armv8l", "arm"),
        ("ppc64le", "ppc64le"),
        ("riscv64", "riscv64"),
    ],
)
def test_a_kernel_machine_name_is_the_architecture_go_and_seccomp_say(
    machine: str, arch: str
) -> None:
    assert host_platform(machine).architecture == arch
    assert go_arch(machine) == arch  # the seccomp profile's arches: the same answer
