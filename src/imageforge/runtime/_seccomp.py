"""Seccomp profiles: Docker's profile format (what ``/usr/share/containers/seccomp.json``
and ``--security-opt seccomp=FILE`` hold) turned into the runtime spec's
``linux.seccomp``, the way Docker and podman do it.

A profile rule may apply only to some architectures (``includes``/``excludes``
``arches``, Go's names: amd64, arm64, ...), only when the container has or lacks some
capabilities (``caps``), or only from a kernel version on (``minKernel``); the runtime
spec has none of that, so the conversion evaluates it here against the container's
capability set, this host's architecture and kernel. ``archMap`` becomes
``architectures``: the host's native seccomp architecture and its sub-architectures
(x86 and x32 beside x86_64), so 32-bit syscalls meet the same rules.

The default profile is Debian's ``golang-github-containers-common`` one (podman's and
buildah's), tightened where it is looser than Docker's default: podman allows
``unshare``, ``setns``, the mount family, namespace flags to ``clone`` and the keyring
syscalls so that containers can nest; a build step gets none of them (EPERM), unless it
has CAP_SYS_ADMIN, which imageforge never grants (the keyring ones not even then), and
``clone3``, whose flags a filter cannot read, answers ENOSYS so that libc falls back to
``clone``. Everything here is pure: profile in, spec section out.
"""

from __future__ import annotations

import errno
import functools
import json
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, NotFound, Unavailable
from imageforge.oci import host_platform

__all__ = [
    "DEFAULT_PROFILE",
    "go_arch",
    "harden",
    "kernel_version",
    "load_profile",
    "seccomp_section",
    "to_runtime_seccomp",
]

DEFAULT_PROFILE = Path("/usr/share/containers/seccomp.json")
PROFILE_PACKAGE = "golang-github-containers-common"

# GOARCH -> libseccomp's name for the native architecture (the key of archMap).
_NATIVE = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "arm": "SCMP_ARCH_ARM",
    "386": "SCMP_ARCH_X86",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
    "loong64": "SCMP_ARCH_LOONGARCH64",
}

# What the default profile tightens (see the module docstring).
_ADMIN_ONLY = (
    "unshare",
    "setns",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
)
_KEYRING = ("keyctl", "add_key", "request_key")
_NAMESPACE_FLAGS = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
}
_ALL_NAMESPACES = functools.reduce(int.__or__, _NAMESPACE_FLAGS.values())
_LEFT_OUT = ("SCMP_ARCH_X32",)


def go_arch(machine: str | None = None) -> str:
    """This host's architecture (or ``machine``'s, as ``uname -m`` names it) under Go's
    name, what profiles' ``arches`` say: the architecture of its OCI platform."""
    return host_platform(machine).architecture


def kernel_version(release: str | None = None) -> tuple[int, int]:
    """(major, minor) of ``uname -r`` (``6.1.0-18-amd64`` -> (6, 1))."""
    release = release or os.uname().release
    parts = release.split("-", 1)[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return 0, 0


def _clone_rules() -> list[dict[str, Any]]:
    """``clone`` without namespace flags for everyone, with them only under
    CAP_SYS_ADMIN; s390 passes the flags as the second argument, the rest as the first."""
    rules: list[dict[str, Any]] = [
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}}
    ]
    s390 = ["s390", "s390x"]
    for index, includes, excludes in ((0, {}, {"arches": s390}), (1, {"arches": s390}, {})):
        scope = {"includes": includes, "excludes": {"caps": ["CAP_SYS_ADMIN"], **excludes}}

        def flags(value: int, value_two: int, index: int = index) -> list[dict[str, Any]]:
            return [
                {"index": index, "value": value, "valueTwo": value_two, "op": "SCMP_CMP_MASKED_EQ"}
            ]

        rules.append(
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": flags(_ALL_NAMESPACES, 0)}
            | scope
        )
        rules += [
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": errno.EPERM,
                "args": flags(flag, flag),
            }
            | scope
            for flag in _NAMESPACE_FLAGS.values()
        ]
    return rules


def harden(profile: Mapping[str, Any]) -> dict[str, Any]:
    """``profile`` (Docker's format) with the namespace, mount and keyring syscalls taken
    out of its rules and given Docker's default treatment instead, and without x32."""
    restricted = {*_ADMIN_ONLY, *_KEYRING, "clone", "clone3"}
    rules: list[dict[str, Any]] = []
    for rule in _rules(profile, "the default profile"):
        names = [n for n in _names(rule, "the default profile") if n not in restricted]
        if names:
            rules.append({**rule, "names": names})
    rules += [
        {
            "names": list(_ADMIN_ONLY),
            "action": "SCMP_ACT_ALLOW",
            "includes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {
            "names": list(_ADMIN_ONLY),
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.EPERM,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
        {"names": list(_KEYRING), "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EPERM},
        *_clone_rules(),
        {"names": ["clone3"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {
            "names": ["clone3"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": errno.ENOSYS,
            "excludes": {"caps": ["CAP_SYS_ADMIN"]},
        },
    ]
    hardened = {**profile, "syscalls": rules}
    if profile.get("archMap"):
        hardened["archMap"] = [
            {**entry, "subArchitectures": _kept(entry.get("subArchitectures") or [])}
            for entry in profile["archMap"]
            if isinstance(entry, Mapping) and entry.get("architecture") not in _LEFT_OUT
        ]
    return hardened


def _kept(architectures: Sequence[str]) -> list[str]:
    return [a for a in architectures if a not in _LEFT_OUT]


def _rules(profile: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    rules = profile.get("syscalls") or []
    if not isinstance(rules, list) or not all(isinstance(r, Mapping) for r in rules):
        raise InvalidArgument(f"{where}: 'syscalls' must be a list of objects")
    return rules


def _names(rule: Mapping[str, Any], where: str) -> list[str]:
    names = rule.get("names")
    if names is None and rule.get("name"):  # the profile format's older spelling
        names = [rule["name"]]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidArgument(f"{where}: a syscall rule without a list of 'names': {dict(rule)}")
    return names


def _filter(rule: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = rule.get(key) or {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"{where}: '{key}' of a syscall rule must be an object")
    return value


def _at_least(kernel: tuple[int, int], wanted: object, where: str) -> bool:
    try:
        major, _, minor = str(wanted).partition(".")
        return kernel >= (int(major), int(minor or 0))
    except ValueError:
        raise InvalidArgument(f"{where}: minKernel {wanted!r} is not MAJOR.MINOR") from None


def _applies(
    rule: Mapping[str, Any],
    caps: Collection[str],
    arch: str,
    kernel: tuple[int, int],
    where: str,
) -> bool:
    """Docker's reading of a rule's ``includes`` (all must hold) and ``excludes`` (none
    may): arches against the host, caps against the container's, minKernel."""
    inc = _filter(rule, "includes", where)
    exc = _filter(rule, "excludes", where)
    if exc.get("arches") and arch in exc["arches"]:
        return False
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if exc.get("minKernel") and _at_least(kernel, exc["minKernel"], where):
        return False
    return not (inc.get("minKernel") and not _at_least(kernel, inc["minKernel"], where))


def _errno_ret(rule: Mapping[str, Any], where: str) -> int | None:
    value = rule.get("errnoRet")
    if value is None and isinstance(rule.get("errno"), str):  # podman also names it
        value = getattr(errno, rule["errno"], None)
        if value is None:
            raise InvalidArgument(f"{where}: unknown errno {rule['errno']!r}")
    if value is not None and (not isinstance(value, int) or value < 0):
        raise InvalidArgument(f"{where}: errnoRet must be a non-negative number, not {value!r}")
    return value


def _architectures(profile: Mapping[str, Any], arch: str, where: str) -> list[str]:
    listed = profile.get("architectures")
    arch_map = profile.get("archMap")
    if listed and arch_map:
        raise InvalidArgument(f"{where}: give 'architectures' or 'archMap', not both")
    if listed:
        if not isinstance(listed, list) or not all(isinstance(a, str) for a in listed):
            raise InvalidArgument(f"{where}: 'architectures' must be a list of names")
        return list(listed)
    native = _NATIVE.get(arch)
    out: list[str] = []
    if native is None:  # an architecture we cannot name: the runtime takes the native one
        return out
    for entry in arch_map or []:
        if isinstance(entry, Mapping) and entry.get("architecture") == native:
            out.append(native)
            out.extend(str(a) for a in entry.get("subArchitectures") or [])
    return out


def to_runtime_seccomp(
    profile: Mapping[str, Any],
    *,
    capabilities: Collection[str],
    arch: str,
    kernel: tuple[int, int],
    where: str = "seccomp profile",
) -> dict[str, Any]:
    """The runtime spec's ``linux.seccomp`` for a container with ``capabilities`` on a
    host of Go architecture ``arch`` running ``kernel``."""
    action = profile.get("defaultAction")
    if not isinstance(action, str) or not action.startswith("SCMP_ACT_"):
        raise InvalidArgument(f"{where}: 'defaultAction' must be an SCMP_ACT_... action")
    out: dict[str, Any] = {"defaultAction": action}
    default_errno = _errno_ret({"errnoRet": profile.get("defaultErrnoRet")}, where)
    if default_errno is not None:
        out["defaultErrnoRet"] = default_errno
    architectures = _architectures(profile, arch, where)
    if architectures:
        out["architectures"] = architectures
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])
    syscalls: list[dict[str, Any]] = []
    for rule in _rules(profile, where):
        names = _names(rule, where)
        if not _applies(rule, capabilities, arch, kernel, where):
            continue
        rule_action = rule.get("action")
        if not isinstance(rule_action, str) or not rule_action.startswith("SCMP_ACT_"):
            raise InvalidArgument(f"{where}: rule for {names[:3]} has no SCMP_ACT_... action")
        converted: dict[str, Any] = {"names": list(names), "action": rule_action}
        ret = _errno_ret(rule, where)
        if ret is not None:
            converted["errnoRet"] = ret
        args = rule.get("args") or []
        if args:
            converted["args"] = [_arg(a, where) for a in args]
        syscalls.append(converted)
    out["syscalls"] = syscalls
    return out


def _arg(arg: object, where: str) -> dict[str, Any]:
    if not isinstance(arg, Mapping) or not isinstance(arg.get("op"), str):
        raise InvalidArgument(f"{where}: a syscall argument filter needs index, value and op")
    out = {
        "index": int(arg.get("index", 0)),
        "value": int(arg.get("value", 0)),
        "op": arg["op"],
    }
    if arg.get("valueTwo"):
        out["valueTwo"] = int(arg["valueTwo"])
    return out


@functools.lru_cache(maxsize=8)
def _read(path: str, _mtime_ns: int, _size: int) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(
            f"{path}: not a seccomp profile (bad JSON: {exc})",
            hint="give a profile in Docker's format, e.g. a copy of " + str(DEFAULT_PROFILE),
        ) from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: not a seccomp profile (not a JSON object)")
    return data


def load_profile(path: Path) -> dict[str, Any]:
    """The profile in ``path``; read once while the file is unchanged."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if path == DEFAULT_PROFILE:
            raise Unavailable(
                f"the default seccomp profile {path} is missing",
                hint=f"install it (Debian: apt-get install {PROFILE_PACKAGE}), or run without "
                "a profile: --security-opt seccomp=unconfined",
            ) from None
        raise NotFound(f"seccomp profile {path} does not exist") from None
    except OSError as exc:
        raise InvalidArgument(f"cannot read seccomp profile {path}: {exc.strerror}") from None
    return _read(str(path), st.st_mtime_ns, st.st_size)


def seccomp_section(profile: str | Path, capabilities: Sequence[str]) -> dict[str, Any] | None:
    """``linux.seccomp`` for ``--security-opt seccomp=...``: ``"default"`` (the hardened
    containers-common profile), ``"unconfined"`` (None: no filter) or a profile file."""
    if profile == "unconfined":
        return None
    if profile == "default":
        loaded = harden(load_profile(DEFAULT_PROFILE))
        where = str(DEFAULT_PROFILE)
    else:
        loaded = load_profile(Path(profile))
        where = str(profile)
    return to_runtime_seccomp(
        loaded, capabilities=capabilities, arch=go_arch(), kernel=kernel_version(), where=where
    )
