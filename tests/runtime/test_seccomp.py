"""Seccomp profile conversion (Docker's format -> the runtime spec), on the real
containers-common profile this machine ships and on small profiles written here."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from imageforge.errors import InvalidArgument, NotFound, Unavailable
from imageforge.runtime import _seccomp
from imageforge.runtime._capabilities import DEFAULT_CAPABILITIES
from imageforge.runtime._seccomp import (
    DEFAULT_PROFILE,
    go_arch,
    harden,
    kernel_version,
    load_profile,
    seccomp_section,
    to_runtime_seccomp,
)

KERNEL = (6, 1)


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    if not DEFAULT_PROFILE.is_file():
        pytest.fail(f"{DEFAULT_PROFILE} is missing; 'make setup' installs it")
    return load_profile(DEFAULT_PROFILE)


def _convert(
    profile: dict[str, Any], *, caps: tuple[str, ...] = DEFAULT_CAPABILITIES, arch: str = "amd64"
) -> dict[str, Any]:
    return to_runtime_seccomp(profile, capabilities=caps, arch=arch, kernel=KERNEL)


def _actions(section: dict[str, Any], name: str) -> list[tuple[str, int | None, bool]]:
    """(action, errnoRet, has argument filters) of every rule naming ``name``."""
    return [
        (rule["action"], rule.get("errnoRet"), bool(rule.get("args")))
        for rule in section["syscalls"]
        if name in rule["names"]
    ]


def test_the_real_profile_converts_for_amd64(profile: dict[str, Any]) -> None:
    section = _convert(profile)
    assert section["defaultAction"] == "SCMP_ACT_ERRNO"
    assert section["defaultErrnoRet"] == errno.ENOSYS
    # archMap: the native architecture and its sub-architectures, nothing else
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert _actions(section, "read") == [("SCMP_ACT_ALLOW", None, False)]
    # includes.arches: arch_prctl is for amd64/x32 only, sync_file_range2 for ppc64le/arm
    assert _actions(section, "arch_prctl") == [("SCMP_ACT_ALLOW", None, False)]
    assert _actions(section, "sync_file_range2") == []
    assert _actions(section, "s390_runtime_instr") == []
    # personality: only the argument values the profile lists
    assert {a for a in _actions(section, "personality")} == {("SCMP_ACT_ALLOW", None, True)}
    # no runtime-spec rule carries the profile format's own fields
    for rule in section["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args"}, rule


def test_caps_decide_which_rules_apply(profile: dict[str, Any]) -> None:
    """includes.caps needs every cap listed; excludes.caps drops the rule when the
    container has one of them (open_by_handle_at: CAP_DAC_READ_SEARCH, which the
    default set lacks)."""
    section = _convert(profile)
    assert _actions(section, "open_by_handle_at") == [("SCMP_ACT_ERRNO", errno.EPERM, False)]
    assert _actions(section, "chroot") == [("SCMP_ACT_ALLOW", None, False)]  # CAP_SYS_CHROOT
    more = _convert(profile, caps=(*DEFAULT_CAPABILITIES, "CAP_DAC_READ_SEARCH"))
    assert _actions(more, "open_by_handle_at") == [("SCMP_ACT_ALLOW", None, False)]
    fewer = _convert(profile, caps=("CAP_CHOWN",))
    assert _actions(fewer, "chroot") == [("SCMP_ACT_ERRNO", errno.EPERM, False)]


def test_arm64_gets_its_own_architectures(profile: dict[str, Any]) -> None:
    section = _convert(profile, arch="arm64")
    assert section["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert _actions(section, "arch_prctl") == []
    assert _actions(section, "sync_file_range2") == [("SCMP_ACT_ALLOW", None, False)]


def test_min_kernel_is_compared_with_the_host() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.10"}},
        ],
    }
    old = to_runtime_seccomp(profile, capabilities=(), arch="amd64", kernel=(4, 4))
    new = to_runtime_seccomp(profile, capabilities=(), arch="amd64", kernel=(5, 10))
    assert [r["names"] for r in old["syscalls"]] == [["old"]]
    assert [r["names"] for r in new["syscalls"]] == [["ptrace"]]


def test_the_default_profile_is_tightened_where_podman_is_looser(profile: dict[str, Any]) -> None:
    """containers-common allows unshare, mount, setns, keyctl and clone outright;
    the default profile refuses them with EPERM unless CAP_SYS_ADMIN (the keyring ones
    even then), lets clone through only without namespace flags and answers clone3 with
    ENOSYS (its flags cannot be read, so libc falls back to clone)."""
    podman = _convert(profile)
    for name in ("unshare", "mount", "setns", "keyctl", "clone", "clone3"):
        assert ("SCMP_ACT_ALLOW", None, False) in _actions(podman, name), name
    ours = _convert(harden(profile))
    for name in ("unshare", "mount", "umount2", "setns", "pivot_root", "open_tree", "fsopen"):
        assert _actions(ours, name) == [("SCMP_ACT_ERRNO", errno.EPERM, False)], name
    for name in ("keyctl", "add_key", "request_key"):
        assert _actions(ours, name) == [("SCMP_ACT_ERRNO", errno.EPERM, False)], name
    assert _actions(ours, "clone3") == [("SCMP_ACT_ERRNO", errno.ENOSYS, False)]
    clone = [r for r in ours["syscalls"] if "clone" in r["names"]]
    assert all(r["names"] == ["clone"] for r in clone)
    allowed = [r for r in clone if r["action"] == "SCMP_ACT_ALLOW"]
    assert allowed == [
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0x7E020000, "op": "SCMP_CMP_MASKED_EQ"}],
        }
    ]
    denied_flags = {r["args"][0]["value"] for r in clone if r["action"] == "SCMP_ACT_ERRNO"}
    assert sum(denied_flags) == 0x7E020000  # each namespace flag alone
    # with CAP_SYS_ADMIN (never granted by imageforge) they would be allowed again,
    # except the keyring
    admin = _convert(harden(profile), caps=(*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"))
    assert _actions(admin, "unshare") == [("SCMP_ACT_ALLOW", None, False)]
    assert _actions(admin, "keyctl") == [("SCMP_ACT_ERRNO", errno.EPERM, False)]
    # and nothing else changed
    others = {n for r in podman["syscalls"] for n in r["names"]} - {
        "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "fsopen", "fsconfig",
        "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "keyctl", "add_key",
        "request_key", "clone", "clone3",
    }  # fmt: skip
    for name in others:
        assert _actions(ours, name) == _actions(podman, name), name


def test_the_default_leaves_x32_out(profile: dict[str, Any]) -> None:
    """x32 syscalls meet the runtime's bad-architecture action (the process is killed)
    rather than the rules; i386 ones still meet them."""
    assert _convert(harden(profile))["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert _convert(harden(profile), arch="arm64")["architectures"] == [
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
    ]
    assert harden({"defaultAction": "SCMP_ACT_ALLOW"}).get("archMap") is None


def test_section_for_this_host() -> None:
    section = seccomp_section("default", DEFAULT_CAPABILITIES)
    assert section is not None and section["defaultErrnoRet"] == errno.ENOSYS
    assert seccomp_section("unconfined", DEFAULT_CAPABILITIES) is None
    assert go_arch("x86_64") == "amd64" and go_arch("aarch64") == "arm64"
    assert kernel_version("6.1.0-18-amd64") == (6, 1)
    assert kernel_version("6.18.44-fc-v1294") == (6, 18)


def test_a_profile_file_is_used_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errno": "EACCES"}],
            }
        )
    )
    section = seccomp_section(str(path), DEFAULT_CAPABILITIES)
    assert section == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES}],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a seccomp profile (bad JSON"),
        ("[]", "not a seccomp profile (not a JSON object)"),
        ('{"syscalls": []}', "'defaultAction' must be an SCMP_ACT_... action"),
        (
            '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],'
            ' "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}',
            "give 'architectures' or 'archMap', not both",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ALLOW"}]}',
            "a syscall rule without a list of 'names'",
        ),
        (
            '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}',
            "has no SCMP_ACT_... action",
        ),
    ],
)
def test_a_bad_profile_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidArgument, match=str(path)) as info:
        seccomp_section(str(path), DEFAULT_CAPABILITIES)
    assert message in info.value.message


def test_a_missing_profile_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(NotFound, match="seccomp profile /no/such.json does not exist"):
        seccomp_section("/no/such.json", DEFAULT_CAPABILITIES)
    # The package's file cannot be taken away from this machine for a test: point the
    # default at a path that does not exist instead.
    monkeypatch.setattr(_seccomp, "DEFAULT_PROFILE", tmp_path / "seccomp.json")
    with pytest.raises(Unavailable) as info:
        seccomp_section("default", DEFAULT_CAPABILITIES)
    assert "the default seccomp profile" in info.value.message
    assert info.value.hint is not None
    assert "apt-get install golang-github-containers-common" in info.value.hint
    assert "--security-opt seccomp=unconfined" in info.value.hint
