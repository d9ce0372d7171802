"""Names in the registry: repositories (``project/repo``, the Distribution Spec's
pattern), tags, and the project a repository belongs to."""

from __future__ import annotations

import re

__all__ = ["NAME_RE", "TAG_RE", "project_of"]

NAME_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def project_of(repo: str) -> str:
    """The project ``repo`` belongs to: its first path component, ``library`` if it
    has only one."""
    return repo.split("/", 1)[0] if "/" in repo else "library"
