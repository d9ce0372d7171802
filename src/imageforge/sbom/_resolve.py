"""Symlink resolution inside a filesystem view, as a process chrooted into it would
see it: an absolute target starts again at the view's root and ``..`` stops there, so
no link (``etc/os-release -> /etc/os-release``, ``-> ../../..``) reaches outside."""

from __future__ import annotations

from collections.abc import Callable

from imageforge.sbom._files import FileInfo

__all__ = ["MAX_LINKS", "resolve_path"]

MAX_LINKS = 40  # as Linux's MAXSYMLINKS: more links than this is a loop


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def resolve_path(info: Callable[[str], FileInfo | None], path: str) -> str | None:
    """``path`` with every symlink in it followed inside the view (``info`` describes a
    path without following it); ``None`` when a component is missing or the links
    loop. The result names no symlink."""
    todo = _parts(path)
    done: list[str] = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        candidate = "/".join([*done, part])
        found = info(candidate)
        if found is None:
            return None
        if found.kind == "symlink":
            links += 1
            if links > MAX_LINKS:
                return None
            if found.linkname.startswith("/"):
                done = []
            todo = _parts(found.linkname) + todo
            continue
        if todo and found.kind != "dir":
            return None
        done.append(part)
    return "/".join(done)
