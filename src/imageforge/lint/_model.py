"""Rules as data, what a rule's check sees, and what it returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from imageforge.dockerfile import (
    ContextReport,
    Dockerfile,
    Instruction,
    Shell,
    Stage,
)
from imageforge.oci import Reference
from imageforge.policy import LintPolicy
from imageforge.report import RuleInfo, Severity

__all__ = ["Base", "Edit", "Fix", "Hit", "LintInput", "Rule", "hit"]

DOCS_URI = "https://github.com/imageforge/imageforge/blob/main/docs/rules/{id}.md"


@dataclass(frozen=True)
class Hit:
    """Where a check found its problem (1-based lines, column 0: whole line) and, when
    the rule's message is not enough, the specific words."""

    line: int
    column: int = 1
    end_line: int = 0
    detail: str | None = None


def hit(instr: Instruction, detail: str | None = None) -> Hit:
    """A hit on the whole of ``instr``."""
    loc = instr.location
    return Hit(loc.start_line, loc.column, loc.end_line, detail)


@dataclass(frozen=True)
class Base:
    """What a stage starts from: an earlier stage (``stage``), ``scratch``, an image
    (``ref``), or something only known at build time (``ref`` and ``stage`` None)."""

    stage: Stage
    text: str
    parent: Stage | None = None
    ref: Reference | None = None
    scratch: bool = False
    written_tag: bool = False

    @property
    def repository(self) -> str:
        """The image's last path component (``python`` for docker.io/library/python)."""
        return self.ref.path.rsplit("/", 1)[-1] if self.ref else ""

    @property
    def official(self) -> bool:
        """A Docker Official Image (docker.io/library/...)."""
        if self.ref is None or self.ref.domain != "docker.io":
            return False
        return self.ref.path.startswith("library/") and self.ref.path.count("/") == 1


@dataclass(frozen=True)
class LintInput:
    """What every check reads: the parsed Dockerfile, each stage's base, the final stage,
    the context report when the context is known, the lint policy, and the
    ``# hadolint shell=`` comments (line, shell) of the source."""

    dockerfile: Dockerfile
    bases: tuple[Base, ...]
    context: ContextReport | None = None
    policy: LintPolicy = field(default_factory=LintPolicy)
    shell_pragmas: tuple[tuple[int, str], ...] = ()

    def shell_of(self, stage: Stage, instr: Instruction) -> tuple[str, ...]:
        """The shell the linter assumes for ``instr``: the stage's last SHELL before it
        or the last ``# hadolint shell=`` comment above it, whichever is nearer
        (default ``/bin/sh -c``)."""
        line = instr.location.start_line
        best: tuple[int, tuple[str, ...]] = (0, ("/bin/sh", "-c"))
        for pline, shell in self.shell_pragmas:
            if best[0] < pline < line:
                best = (pline, (shell,))
        for i in stage.instructions:
            if i is instr or i.location.start_line >= line:
                break
            if isinstance(i, Shell) and i.shell and i.location.start_line > best[0]:
                best = (i.location.start_line, i.shell)
        return best[1]

    @property
    def final(self) -> Stage | None:
        stages = self.dockerfile.stages
        return stages[-1] if stages else None

    def base_of(self, stage: Stage) -> Base:
        return self.bases[stage.index]

    def runtime_root(self, stage: Stage) -> Base:
        """The base that is an image (or scratch), following FROM <stage> chains."""
        base = self.bases[stage.index]
        seen = {stage.index}
        while base.parent is not None and base.parent.index not in seen:
            seen.add(base.parent.index)
            base = self.bases[base.parent.index]
        return base

    def final_stages(self) -> tuple[Stage, ...]:
        """The final stage and every stage it is built FROM (they all ship)."""
        final = self.final
        if final is None:
            return ()
        chain = [final]
        base = self.bases[final.index]
        while base.parent is not None and base.parent not in chain:
            chain.append(base.parent)
            base = self.bases[base.parent.index]
        return tuple(chain)


Check = Callable[[LintInput], Iterable[Hit]]


@dataclass(frozen=True)
class Edit:
    """Replace source lines ``start``..``end`` (1-based, inclusive) by ``lines``; with
    ``end == start - 1`` nothing is replaced and ``lines`` are inserted before
    ``start`` (``start`` may be one past the last line: appended)."""

    start: int
    end: int
    lines: tuple[str, ...]


Fix = Callable[[LintInput, Hit, Sequence[str]], Sequence[Edit]]
"""A rule's rewrite for one of its findings: the edits that remove it, or none when the
fix cannot be sure it changes nothing else (see :mod:`imageforge.lint._fixes`)."""


@dataclass(frozen=True)
class Rule:
    """One rule of the standard. ``id`` is stable (``IF`` + the guide section's hundred);
    ``slug`` a short name; ``message`` what a finding says; ``why`` a paragraph of the
    guide's reasoning; ``bad``/``good`` Dockerfiles that fail and pass it (the tests run
    them); ``needs_context``: the check reads the build context, so runs only when known;
    ``example_policy`` the policy the examples need; ``bad_context``/``good_context``
    the files (path, content) of the examples' build contexts; ``fix`` the optional
    safe rewrite that removes a finding (``imageforge lint --fix``).
    """

    id: str
    slug: str
    section: str
    severity: Severity
    title: str
    message: str
    hint: str
    why: str
    bad: str
    good: str
    check: Check = field(compare=False, repr=False)
    needs_context: bool = False
    example_policy: LintPolicy | None = None
    bad_context: tuple[tuple[str, str], ...] = ()
    good_context: tuple[tuple[str, str], ...] = ()
    fix: Fix | None = field(default=None, compare=False, repr=False)

    def info(self, severity: Severity | None = None) -> RuleInfo:
        return RuleInfo(
            id=self.id,
            name=self.slug,
            severity=severity or self.severity,
            title=self.title,
            help=f"{self.why} {self.hint}",
            help_uri=DOCS_URI.format(id=self.id),
        )
