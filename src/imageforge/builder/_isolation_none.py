"""``build --isolation none``: the services a build gets when it runs where no
container can be made (Kaniko's job: a CI pod without privileges, overlay mounts,
user namespaces or a nested runtime). The plan, cache keys, config and history stay
the builder's; the filesystem is one plain directory (:class:`RootSnapshotter`,
:class:`RootDiffer`) and each RUN a chrooted child process (:class:`ChrootRuntime`).

It runs as uid 0 (of the container it is in) with no added capabilities, as Kaniko
does: a RUN step must be able to write every file of the image and give files to
their owners. A RUN can change imageforge's own files outside the root too (a chroot is
no boundary against root), so the container is the boundary: one build per container.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from imageforge import runtime  # its ChrootRuntime loads only for this isolation
from imageforge.builder._model import BuildOptions
from imageforge.builder._rootdir import ALWAYS_IGNORED, RootDiffer, RootSnapshotter
from imageforge.builder._services import BuildServices, RuntimeChoice
from imageforge.errors import Unsupported
from imageforge.runtime import Limits, Security

__all__ = ["ISOLATIONS", "isolated_services"]

ISOLATIONS = ("oci", "none")


def check_isolation_none(options: BuildOptions) -> None:
    """Refuse what ``--isolation none`` cannot do, before anything runs."""
    uid = os.geteuid()
    if uid != 0:
        raise Unsupported(
            f"--isolation none runs as uid 0 and this process runs as uid {uid}: RUN steps "
            "are chrooted into the build's root and must own and change every file of the "
            "image, which a non-zero uid cannot",
            hint="run the build container as root (uid 0; no added capabilities, no "
            "--privileged), or drop --isolation none where containers can be made",
        )
    if options.security != Security():
        raise Unsupported(
            "--isolation none cannot apply --security-opt: it runs RUN steps as plain "
            "processes, with no seccomp profile of its own",
            hint="drop --security-opt; the build container's own profile applies",
        )
    if options.limits != Limits():
        raise Unsupported(
            "--isolation none cannot limit RUN steps (--memory, --cpus, --pids-limit,"
            " --ulimit): that needs a cgroup, which it does not make",
            hint="drop the limits (the build container's own limits apply), or build with"
            " the default isolation",
        )
    if options.network == "none":
        raise Unsupported(
            "--isolation none cannot cut RUN steps off the network (that needs a network "
            "namespace); they use the build container's network",
            hint="drop --network none, or build with the default isolation",
        )


@contextmanager
def isolated_services(services: BuildServices, options: BuildOptions) -> Iterator[BuildServices]:
    """``services`` as ``options.isolation`` asks: unchanged for ``oci``; for ``none``
    a fresh build root under ``$TMPDIR``, removed when the build ends."""
    if options.isolation == "oci":
        yield services
        return
    if options.isolation not in ISOLATIONS:
        raise Unsupported(
            f"--isolation {options.isolation!r} is not one of {', '.join(ISOLATIONS)}"
        )
    check_isolation_none(options)
    directory = tempfile.mkdtemp(prefix="imageforge-build-root-")
    try:
        services.progress.note(
            f"isolation none: RUN steps run chrooted in {directory}/root, no container"
        )
        yield replace(
            services,
            snapshots=RootSnapshotter(
                Path(directory),
                ignore=(*ALWAYS_IGNORED, *options.ignore_paths),
            ),
            differ=RootDiffer(),
            runtimes=RuntimeChoice(runtime.ChrootRuntime(), services.progress),
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)
