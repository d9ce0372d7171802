"""The ``seccomp`` and ``network`` items of ``imageforge system check``: what the
default sandbox of a RUN step and of ``run`` needs, probed for real.

``seccomp``: the default profile is there and converts for this host (its rules,
architectures). ``network``: a private network namespace is made and slirp4netns
comes up in it (in a user namespace too, for a rootless user).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from imageforge.errors import ImageforgeError
from imageforge.runtime._capabilities import DEFAULT_CAPABILITIES
from imageforge.runtime._netns import NetworkNamespace
from imageforge.runtime._report import CheckItem
from imageforge.runtime._seccomp import DEFAULT_PROFILE, seccomp_section
from imageforge.runtime._slirp import Slirp, find_slirp4netns

__all__ = ["check_private_network", "check_seccomp"]


def check_seccomp() -> CheckItem:
    """The default seccomp profile loads and converts for this host."""
    data: dict[str, Any] = {"profile": str(DEFAULT_PROFILE)}
    try:
        section = seccomp_section("default", DEFAULT_CAPABILITIES)
    except ImageforgeError as exc:
        return CheckItem("seccomp", False, exc.message, exc.hint, data)
    assert section is not None
    names = sum(len(rule["names"]) for rule in section["syscalls"])
    data.update(
        architectures=section.get("architectures", []),
        rules=len(section["syscalls"]),
        syscall_names=names,
        default_errno=section.get("defaultErrnoRet"),
    )
    return CheckItem(
        "seccomp",
        True,
        f"default profile {DEFAULT_PROFILE} ({len(section['syscalls'])} rules over {names} "
        f"syscall names; namespaces, mounts and keyrings refused)",
        None,
        data,
    )


def check_private_network() -> CheckItem:
    """A private network namespace with slirp4netns serving it can be set up here."""
    data: dict[str, Any] = {}
    try:
        binary = find_slirp4netns()
        data["path"] = binary
        version = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.splitlines()
        data["version"] = version[0] if version else None
        with tempfile.TemporaryDirectory(prefix="imageforge-netcheck-") as tmp:
            with NetworkNamespace() as netns:
                Slirp(netns.path, Path(tmp)).close()
    except ImageforgeError as exc:
        return CheckItem("network", False, exc.message, exc.hint, data)
    return CheckItem(
        "network",
        True,
        f"private network namespaces with outbound access through {data['version']}",
        None,
        data,
    )
