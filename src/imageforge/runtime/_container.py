"""The process an image's config asks for: Entrypoint + Cmd, Env, WorkingDir, User,
with the overrides ``imageforge run`` takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument
from imageforge.runtime._model import Process
from imageforge.runtime._spec import DEFAULT_PATH
from imageforge.runtime._user import resolve_user

__all__ = ["image_process"]


def _env(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def image_process(
    config: Mapping[str, Any],
    rootfs: Path,
    *,
    command: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    user: str | None = None,
) -> Process:
    """The process to start for an image whose runtime config is ``config`` (the
    ``config`` object of the image config) unpacked at ``rootfs``."""
    entrypoint = list(config.get("Entrypoint") or [])
    cmd = list(command) if command else list(config.get("Cmd") or [])
    args = entrypoint + cmd
    if not args:
        raise InvalidArgument(
            "no command to run: the image has no Entrypoint or Cmd and none was given",
            hint="give the command after the image name",
        )
    merged = _env(config.get("Env") or [])
    merged.setdefault("PATH", DEFAULT_PATH)
    merged.update(env or {})
    merged.setdefault("HOSTNAME", "imageforge")
    merged.setdefault("HOME", "/root")
    uid, gid, extra = resolve_user(rootfs, user if user is not None else config.get("User") or "")
    return Process(
        args=args,
        env=merged,
        cwd=str(config.get("WorkingDir") or "/"),
        uid=uid,
        gid=gid,
        additional_gids=extra,
    )
