"""Paths inside the build context, resolved as COPY, ADD and ``RUN --mount=type=bind`` read
them: every component looked up inside the context, never outside it.

A source path is walked one component at a time from the context root. A symlink on the
way is followed when its target stays inside the context (BuildKit follows a source's
symlinks too; symlinks *inside* a copied directory are copied as symlinks and never
followed). A resolution that would leave the context -- an absolute target elsewhere on
the host, or ``..`` above the context root -- is refused, naming the symlink. BuildKit
clamps such a target to the context root instead (securejoin semantics); imageforge
refuses because a symlink out of the context means its author expected a host file there,
and reading some other file of the context in its place (or reporting "not found" for a
path nobody wrote) would hide that. An absolute target that names a place inside the
context by its host path is followed, as before.

``.dockerignore`` applies to what is really read, not only to the path as written: an
ignored symlink is not followed, an ignored directory is neither passed through nor read
(unless an exception may re-include something below it, which the copy then filters to),
and the path reached is itself checked, so
``alias -> .`` does not make ``alias/.env`` readable when ``.env`` is ignored -- the view
BuildKit's filtered context transfer gives.
"""

from __future__ import annotations

import enum
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from imageforge.dockerfile import DockerIgnore
from imageforge.errors import InvalidArgument
from imageforge.layers import MAX_SYMLINKS

__all__ = ["Found", "Resolved", "resolve_in_context"]


class Found(enum.Enum):
    """How a resolution ended."""

    OK = "ok"
    MISSING = "missing"  # a component does not exist (or is not a directory)
    EXCLUDED = "excluded"  # .dockerignore leaves out a path the resolution needs


@dataclass(frozen=True)
class Resolved:
    """Where a context path leads: ``real`` is the path inside the context with every
    symlink resolved (``.`` for the root), ``path`` the host path (when it exists);
    for ``EXCLUDED``, ``real`` is the ignored path that stopped the resolution."""

    found: Found
    real: str
    path: Path | None = None


def _split(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


def _inside(target: str, roots: tuple[str, ...]) -> str | None:
    """``target`` (absolute) relative to the context if it names a place inside it."""
    clean = os.path.normpath(target)
    for root in roots:
        if clean == root:
            return "."
        if clean.startswith(root + "/"):
            return clean[len(root) + 1 :]
    return None


def _escape(what: str, name: str, link: str, target: str) -> InvalidArgument:
    says = f"{name!r} is" if link == name else f"{name!r}: {link!r} is"
    return InvalidArgument(
        f"{what} {says} a symlink to {target!r}, which leads outside the build context",
        hint="replace the symlink with what it points to (or a symlink inside the "
        "context), or add it to .dockerignore if the build does not need it",
    )


def resolve_in_context(
    context: Path, name: str, ignore: DockerIgnore, *, what: str, given: Path | None = None
) -> Resolved:
    """Resolve ``name`` (relative, already cleaned, ``.`` for the root) inside
    ``context`` (its real, absolute path), following symlinks that stay inside.

    Raises :class:`InvalidArgument` (``what`` starts the message, e.g. ``Dockerfile:3:
    COPY source``) when a symlink leads out of the context or there are too many of
    them; a missing or ignored path is reported in the result, for the caller to word.
    ``given``: the context as the user spelled it, so an absolute symlink naming it that
    way is recognised as inside."""
    base = str(context)
    roots = (base,) if given is None or str(given) == base else (base, str(given))
    # (component, the symlink whose target it came from, that target): for messages
    todo: list[tuple[str, str, str]] = [(p, name, "") for p in reversed(_split(name))]
    done: list[str] = []
    links = 0
    while todo:
        part, link, target = todo.pop()
        if part == "..":
            if not done:  # names are cleaned: only a symlink's target can climb out
                raise _escape(what, name, link, target)
            done.pop()
            continue
        rel = "/".join([*done, part])
        try:
            st = os.lstat(f"{base}/{rel}")
        except (FileNotFoundError, NotADirectoryError):
            return Resolved(Found.MISSING, rel)
        if stat.S_ISLNK(st.st_mode):
            if ignore.is_ignored(rel):
                return Resolved(Found.EXCLUDED, rel)
            links += 1
            if links > MAX_SYMLINKS:
                raise InvalidArgument(f"{what} {name!r}: too many levels of symbolic links")
            pointed = os.readlink(f"{base}/{rel}")
            if pointed.startswith("/"):
                inside = _inside(pointed, roots)
                if inside is None:
                    raise _escape(what, name, rel, pointed)
                done = []
                todo.extend((p, rel, pointed) for p in reversed(_split(inside)))
            else:
                todo.extend((p, rel, pointed) for p in reversed(_split(pointed)))
            continue
        done.append(part)
        is_dir = stat.S_ISDIR(st.st_mode)
        if todo and not is_dir:
            return Resolved(Found.MISSING, rel)
        # an ignored directory is still there when an exception may keep something below
        if ignore.is_ignored(rel) and not (is_dir and ignore.may_reinclude_below(rel)):
            return Resolved(Found.EXCLUDED, rel)
    real = "/".join(done) or "."
    return Resolved(Found.OK, real, context if real == "." else context / real)
