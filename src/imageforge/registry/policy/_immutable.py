"""Immutable tags, as a gate: a project's tag globs (``v*``, ``release-?``) name tags
that never move once pushed and are never deleted, and neither is anything such a tag
needs (the manifests it names, an index's children, their configs and layers) nor the
repository that holds it. Registered transactional on push and delete: the check reads
through the change's transaction, so a push racing another push, or a delete racing a
push, cannot slip past it."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence

from imageforge.oci import Digest
from imageforge.registry.policy._gate import Decision, GateContext, RegistryView

__all__ = ["ImmutableTags"]

_ALLOW = Decision(True)


def _refuse(message: str, hint: str | None = None) -> Decision:
    return Decision(False, message, hint=hint, by=None)


class ImmutableTags:
    """``blobs_of`` gives the config and layer digests a stored manifest names."""

    def __init__(self, blobs_of: Callable[[Digest], Sequence[str]]) -> None:
        self.blobs_of = blobs_of

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        state = ctx.state
        if state is None:  # nothing to decide on: registered wrongly
            return Decision(False, "the immutable tag rules cannot be read")
        patterns = state.immutable_patterns(ctx.project)
        if not patterns:
            return _ALLOW
        repo = ctx.repository
        if ctx.action == "push":
            if ctx.tag is None or not _covered(ctx.tag, patterns):
                return _ALLOW
            old = state.tag_target(repo, ctx.tag)
            if old is not None and old != image:
                return _refuse(
                    f"tag {repo}:{ctx.tag} is immutable and names {old}", "push under a new tag"
                )
            return _ALLOW
        if ctx.action != "delete":
            return _ALLOW
        if ctx.target == "tag":
            if ctx.tag is not None and _covered(ctx.tag, patterns):
                return _refuse(f"tag {repo}:{ctx.tag} is immutable")
            return _ALLOW
        if ctx.target == "repository":  # asked once for each tag the repository holds
            if ctx.tag is not None and _covered(ctx.tag, patterns):
                return _refuse(
                    f"project {ctx.project} holds immutable tag {repo}:{ctx.tag}; --force does"
                    " not delete immutable tags",
                    f"clear the project's immutable rules first (registry project immutable"
                    f" {ctx.project})",
                )
            return _ALLOW
        needed = _needed(state, repo, patterns)
        if ctx.target == "manifest":
            tag = needed.get(image)
            if tag is None:
                return _ALLOW
            if state.tag_target(repo, tag) == image:
                return _refuse(f"tag {repo}:{tag} is immutable")
            return _refuse(
                f"manifest {image} is in the index immutable tag {repo}:{tag} names",
                "immutable tags keep their content",
            )
        if ctx.target == "blob":
            for manifest, tag in needed.items():
                if image == manifest or image in self.blobs_of(manifest):
                    return _refuse(
                        f"blob {image} is needed by immutable tag {repo}:{tag}",
                        "immutable tags keep their content; an admin may change the project's"
                        " immutable rules",
                    )
            return _ALLOW
        return _ALLOW


def _covered(tag: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(tag, p) for p in patterns)


def _needed(state: RegistryView, repo: str, patterns: list[str]) -> dict[Digest, str]:
    """Every manifest an immutable tag of ``repo`` needs (the tagged manifests and,
    through indexes, their children), each with such a tag."""
    todo = [(d, t) for t, d in sorted(state.repo_tags(repo), reverse=True) if _covered(t, patterns)]
    needed: dict[Digest, str] = {}
    while todo:
        digest, tag = todo.pop()
        if digest in needed:
            continue
        needed[digest] = tag
        todo += [(c, tag) for c in state.index_children(repo, digest)]
    return needed
