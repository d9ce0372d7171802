"""``check_system``: every probe of ``imageforge system check``, in one report.

Nothing is guessed from package lists; see ``_probes`` and ``_select`` for how each item
is found out.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from imageforge.errors import ImageforgeError
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime._chroot import check_isolation
from imageforge.runtime._oci import KNOWN_RUNTIMES
from imageforge.runtime._probes import (
    check_binfmt,
    check_cgroups,
    check_disk,
    check_overlayfs,
    check_root,
    check_tool,
    check_userns,
)
from imageforge.runtime._report import CheckItem, SystemReport
from imageforge.runtime._rootless_check import check_rootless
from imageforge.runtime._sandbox_check import check_private_network, check_seccomp
from imageforge.runtime._select import check_runtime
from imageforge.runtime._userns import RootlessPlan

__all__ = ["PEER_TOOLS", "check_system"]

PEER_TOOLS = ("skopeo", "umoci", "buildah", "podman")


def _guard(name: str, probe: Callable[[], CheckItem]) -> CheckItem:
    """Run a probe; a probe that crashes is reported as a failed item, not a traceback."""
    try:
        return probe()
    except (OSError, subprocess.SubprocessError, ImageforgeError) as exc:
        return CheckItem(name, False, f"probe failed: {exc}", None, {})


def check_system(
    root: Path,
    *,
    progress: ProgressSink = NULL_PROGRESS,
    rootless: RootlessPlan | None = None,
    rootless_failure: ImageforgeError | None = None,
) -> SystemReport:
    """Probe everything ``imageforge system check`` reports on. ``rootless`` is the user
    namespace this process entered, ``rootless_failure`` why a user could not enter it."""
    probes: list[tuple[str, Callable[[], CheckItem]]] = [("root", partial(check_root, root))]
    for rt in KNOWN_RUNTIMES:
        probes.append((f"runtime.{rt}", partial(check_runtime, rt, scratch_base=root)))
    probes += [
        ("overlayfs", partial(check_overlayfs, root)),
        ("userns", check_userns),
        (
            "rootless",
            partial(check_rootless, root, plan=rootless, failure=rootless_failure),
        ),
        ("cgroups", check_cgroups),
        ("seccomp", check_seccomp),
        ("network", check_private_network),
        ("binfmt", check_binfmt),
    ]
    probes += [(f"tool.{tool}", partial(check_tool, tool)) for tool in PEER_TOOLS]
    probes.append(("disk", partial(check_disk, root)))
    progress.start("system-check", "probing this machine", total=len(probes), unit="checks")
    items = []
    for name, probe in probes:
        items.append(_guard(name, probe))
        progress.advance("system-check")
    items.append(_guard("isolation", partial(check_isolation, list(items))))
    progress.done("system-check")
    return SystemReport(str(root), items)
