"""The Gate seam and its combinators. ``AllOf([])`` refuses: an empty policy is a
mistake, not a blanket allow.

A gate is asked about one action on one image (``check(image, ctx)``): a push (a
manifest PUT, which may move a tag), a pull (a manifest GET or HEAD) or a delete (of a
tag, a manifest, a blob, or a repository with its project). ``ctx`` says who asks, where
and what; ``ctx.state`` reads the registry's metadata as the change will see it. The
answer is a :class:`Decision`: allowed, or refused with the error kind the client gets
(``Denied`` unless the gate says otherwise) and a message naming the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast

from imageforge.errors import (
    Conflict,
    Denied,
    ErrorKind,
    ImageforgeError,
    InvalidArgument,
    NotFound,
    StepFailed,
    Unauthorized,
    Unavailable,
    Unsupported,
)
from imageforge.oci import Digest, IndexManifest, Manifest
from imageforge.registry._names import project_of

_T = TypeVar("_T")

__all__ = [
    "ACTIONS",
    "TARGETS",
    "AllOf",
    "AnyOf",
    "Decision",
    "Gate",
    "GateContext",
    "RegistryView",
]

ACTIONS = ("push", "pull", "delete")
# What an action is about: a manifest (pushed, pulled or deleted by digest), a tag
# (deleted by name), a blob (deleted) or a whole repository (deleted with its project).
TARGETS = ("manifest", "tag", "blob", "repository")


class RegistryView(Protocol):
    """What a gate may read of the registry's metadata. Inside a change's transaction
    (a gate registered ``transactional``) it is the state the change commits on."""

    def tag_target(self, repo: str, tag: str) -> Digest | None:
        """The manifest ``repo:tag`` names now; None if there is no such tag."""
        ...

    def repo_tags(self, repo: str) -> list[tuple[str, Digest]]:
        """Every tag of ``repo`` with the manifest it names."""
        ...

    def index_children(self, repo: str, digest: Digest) -> list[Digest]:
        """The manifests the index ``digest`` of ``repo`` holds ([] for an image)."""
        ...

    def immutable_patterns(self, project: str) -> list[str]:
        """The project's immutable tag globs."""
        ...


@dataclass(frozen=True)
class GateContext:
    """One action a gate decides on. Only ``action``, ``repository`` and ``user`` are
    always set; the rest as far as the action has them."""

    action: str  # "push", "pull" or "delete"
    repository: str
    user: str | None  # who asks; None: anonymous
    reference: str = ""  # the tag or digest as the client named it
    tag: str | None = None  # push: the tag moved to the manifest; delete: the tag deleted
    target: str = "manifest"  # one of TARGETS
    media_type: str = ""  # of the manifest pushed or pulled
    manifest: Manifest | IndexManifest | None = None  # pushed (always); pulled: see below
    state: RegistryView | None = None  # the metadata as the action sees it
    user_agent: str = ""  # of the client's request
    # A system admin's request to pass the project policies (its reason, audited):
    # the X-Imageforge-Policy-Bypass header of a pull.
    bypass: str | None = None
    # A pull's manifest is parsed only for a gate that asks (:meth:`parsed_manifest`):
    # the pull gates are in every registry, most projects have no policy to check.
    load_manifest: Callable[[], Manifest | IndexManifest | None] | None = field(
        default=None, repr=False, compare=False
    )
    # What the gates of one action read once and share (the project's policy row).
    _shared: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def shared(self, key: str, read: Callable[[], _T]) -> _T:
        """``read()``, called once per action for ``key`` whichever gate asks first."""
        if key not in self._shared:
            self._shared[key] = read()
        return cast(_T, self._shared[key])

    def parsed_manifest(self) -> Manifest | IndexManifest | None:
        """The manifest pushed or pulled, parsed on the first call of a pull."""
        if self.manifest is None and self.load_manifest is not None:
            object.__setattr__(self, "manifest", self.load_manifest())
        return self.manifest

    @property
    def project(self) -> str:
        return project_of(self.repository)


_ERRORS: dict[ErrorKind, type[ImageforgeError]] = {
    ErrorKind.DENIED: Denied,
    ErrorKind.UNAUTHORIZED: Unauthorized,
    ErrorKind.NOT_FOUND: NotFound,
    ErrorKind.CONFLICT: Conflict,
    ErrorKind.INVALID_ARGUMENT: InvalidArgument,
    ErrorKind.UNSUPPORTED: Unsupported,
    ErrorKind.UNAVAILABLE: Unavailable,
    ErrorKind.STEP_FAILED: StepFailed,
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    kind: ErrorKind = ErrorKind.DENIED  # of the error a refusal raises
    hint: str | None = None
    # What refused, named in the message ("push refused by policy: <reason>"); None
    # when the reason says it all ("tag team/app:v1 is immutable").
    by: str | None = "policy"

    def error(self, ctx: GateContext) -> ImageforgeError:
        """The error a refusal of ``ctx`` raises, of the decision's kind."""
        message = (
            self.reason if self.by is None else f"{ctx.action} refused by {self.by}: {self.reason}"
        )
        return _ERRORS.get(self.kind, Denied)(message, hint=self.hint)


class Gate(Protocol):
    def check(self, image: Digest, ctx: GateContext) -> Decision: ...


class AllOf:
    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = list(gates)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        if not self.gates:
            return Decision(False, "empty AllOf policy refuses everything")
        for gate in self.gates:
            d = gate.check(image, ctx)
            if not d.allowed:
                return d
        return Decision(True)


class AnyOf:
    def __init__(self, gates: Sequence[Gate]) -> None:
        self.gates = list(gates)

    def check(self, image: Digest, ctx: GateContext) -> Decision:
        reasons = []
        for gate in self.gates:
            d = gate.check(image, ctx)
            if d.allowed:
                return d
            reasons.append(d.reason)
        return Decision(False, "; ".join(reasons) or "empty AnyOf policy refuses everything")
