"""``RUN --mount=type=secret|cache|tmpfs|bind``: the runtime mounts a step gets, and what
of them its cache key depends on (a bind mount's content; never a secret's or a
cache's).

A secret is a read-only file in a private temporary directory, never in a layer, the
config or the history. A cache is a directory under the store's ``cache-mounts/`` that
outlives the build. A bind of the context resolves its source inside the context and
shows it as ``.dockerignore`` leaves it (see ``_context_view``); a bind ``from`` a stage or
an image shows that image's filesystem read-only. A ``rw`` bind mounts a copy whose
writes are thrown away.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tempfile
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from imageforge.builder._context_view import BIND_OPTIONS, context_view, writable_copy
from imageforge.builder._copy import plan_copy
from imageforge.dockerfile import Copy, DockerIgnore, Run
from imageforge.dockerfile import Mount as RunMount
from imageforge.errors import InvalidArgument, NotFound, Unsupported
from imageforge.layers import resolve_in_root
from imageforge.runtime import Mount

__all__ = ["MountSources", "run_mounts"]

ImageView = Callable[[str, ExitStack], Path]
"""A stage or image name -> a read-only view of its filesystem, valid until the stack
closes."""


@dataclass(frozen=True)
class MountSources:
    """Where a build's RUN mounts come from: the context (and its ``.dockerignore``),
    the ``--secret`` values, the store folders for cache mounts and context views, and
    the views of stages and images (``from=``)."""

    context: Path
    ignore: DockerIgnore
    secrets: Mapping[str, bytes]
    cache_dir: Path
    views_dir: Path
    userxattr: bool
    image_view: ImageView


def _secret(m: RunMount, target: str, sources: MountSources, stack: ExitStack) -> Mount | None:
    secret_id = m.id or posixpath.basename(m.target or "")
    value = sources.secrets.get(secret_id)
    if value is None:
        return None
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    path = tmp / "secret"
    path.write_bytes(value)
    os.chown(path, int(m.uid or 0), int(m.gid or 0))
    path.chmod(int(m.mode or "0400", 8))
    return Mount(target or f"/run/secrets/{secret_id}", "bind", str(path), ("rbind", "ro"))


def _cache(m: RunMount, target: str, sources: MountSources) -> Mount:
    name = hashlib.sha256((m.id or target).encode()).hexdigest()[:32]
    host = sources.cache_dir / name
    try:  # stages running at the same time may share it: one makes it
        host.mkdir(parents=True)
    except FileExistsError:
        pass
    else:
        os.chown(host, int(m.uid or 0), int(m.gid or 0))
        host.chmod(int(m.mode or "0755", 8))
    return Mount(target, "bind", str(host), ("rbind", "ro" if m.readonly else "rw"))


def _bind_source(
    m: RunMount, where: str, sources: MountSources, stack: ExitStack
) -> tuple[Path, str]:
    """The host path a bind mounts and the digest of what it shows."""
    source = m.source or "."
    probe = Copy(sources=(source,), dest="/x")
    if m.from_:
        base_dir = sources.image_view(m.from_, stack)
        host = resolve_in_root(base_dir, source)
        digest = plan_copy(
            probe,
            context=base_dir,
            ignore=DockerIgnore(),
            workdir=None,
            where=where,
            from_image=m.from_,
        ).digest()
        return host, digest
    plan = plan_copy(
        probe,
        context=sources.context,
        ignore=sources.ignore,
        workdir=None,
        where=where,
        keyword="RUN --mount=type=bind",
    )
    src = plan.sources[0]
    host = src.path or sources.context
    if src.is_dir:
        host = context_view(
            host,
            src.real,
            sources.ignore,
            scratch=sources.views_dir,
            stack=stack,
            userxattr=sources.userxattr,
        )
    return host, plan.digest()


def _bind(
    m: RunMount, target: str, where: str, sources: MountSources, stack: ExitStack
) -> tuple[Mount, str]:
    host, digest = _bind_source(m, where, sources, stack)
    rw = m.readonly is False
    if rw:  # writes are allowed but thrown away: mount a copy
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        copy_dst = tmp / "src"
        writable_copy(host, copy_dst)
        host = copy_dst
    mount = Mount(target, "bind", str(host), (*BIND_OPTIONS, "rw" if rw else "ro"))
    return mount, f"bind:{m.from_ or ''}:{m.source or '.'}:{target}:{digest}"


def run_mounts(
    instr: Run, workdir: str, where: str, sources: MountSources, stack: ExitStack
) -> tuple[list[Mount], list[str]]:
    """The runtime mounts of ``instr`` (``workdir``: where relative targets are), valid
    until ``stack`` closes, and the cache inputs they add."""
    mounts: list[Mount] = []
    inputs: list[str] = []
    for m in instr.mounts:
        kind = m.type or "bind"
        target = posixpath.join(workdir, m.target) if m.target else ""
        if kind == "secret":
            secret_id = m.id or posixpath.basename(m.target or "")
            secret = _secret(m, target, sources, stack)
            if secret is None:
                if m.required:
                    raise NotFound(
                        f"{where}: secret {secret_id!r} is required but was not given",
                        hint=f"pass --secret id={secret_id},src=FILE (or env=NAME)",
                    )
                continue
            mounts.append(secret)
            inputs.append(f"secret:{secret_id}:{secret.destination}")
            continue
        if not target:
            raise InvalidArgument(f"{where}: RUN --mount={m.raw}: a target is required")
        if kind == "tmpfs":
            size = f",size={m.size}" if m.size else ""
            mounts.append(Mount(target, "tmpfs", "tmpfs", (f"mode=1777{size}", "nosuid")))
            inputs.append(f"tmpfs:{target}")
        elif kind == "cache":
            mounts.append(_cache(m, target, sources))
            inputs.append(f"cache:{m.id or target}:{target}")
        elif kind == "bind":
            mount, key = _bind(m, target, where, sources, stack)
            mounts.append(mount)
            inputs.append(key)
        else:
            raise Unsupported(f"{where}: RUN --mount=type={kind} is not supported")
    return mounts, inputs
