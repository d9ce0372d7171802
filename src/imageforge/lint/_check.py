"""Running the rules: policy (which rules, what severity), inline ignores, findings."""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge import __version__
from imageforge.dockerfile import (
    ContextReport,
    Dockerfile,
    context_report,
    context_sources,
    parse,
)
from imageforge.errors import InvalidArgument, Location, NotFound
from imageforge.lint._custom import all_rules
from imageforge.lint._facts import bases_of
from imageforge.lint._hadolint import to_if_ids
from imageforge.lint._model import Edit, LintInput, Rule
from imageforge.lint._rules import SYNTAX
from imageforge.lint._shellcheck import ShellcheckBatch, ShellComment, shellcheck_runs
from imageforge.policy import LintPolicy
from imageforge.report import Finding, Report, Severity

__all__ = [
    "Fixed",
    "active_rules",
    "fix_path",
    "fix_source",
    "lint",
    "lint_file",
    "lint_path",
    "lint_paths",
    "lint_source",
    "make_report",
]

_IGNORE = re.compile(
    r"^\s*#\s*(imageforge:|hadolint)\s*ignore\s*=\s*([A-Za-z0-9_,\s-]+?)\s*$", re.IGNORECASE
)
_SHELL_PRAGMA = re.compile(r"^\s*#\s*hadolint\s+shell\s*=\s*(\S+)\s*(#.*)?$", re.IGNORECASE)
_GLOBAL_IGNORE = re.compile(
    r"^\s*#\s*hadolint\s+global\s+ignore\s*=\s*([A-Za-z0-9_,\s-]+?)\s*$", re.IGNORECASE
)


def active_rules(policy: LintPolicy) -> list[tuple[Rule, Severity]]:
    """The rules ``policy`` runs (the standard's, installed plugins', the policy's own),
    each with its effective severity."""
    overrides = dict(policy.severity)
    out: list[tuple[Rule, Severity]] = []
    for r in all_rules(policy):
        if policy.enable and not any(r.id.startswith(p.upper()) for p in policy.enable):
            continue
        if any(r.id.startswith(p.upper()) for p in policy.disable):
            continue
        out.append((r, Severity(overrides.get(r.id, r.severity.value))))
    return out


def _global_ignores(lines: Sequence[str]) -> set[str]:
    """Rule ids a ``# hadolint global ignore=...`` comment silences in the whole file
    (hadolint ids translated through the DL -> IF table)."""
    out: set[str] = set()
    for line in lines:
        m = _GLOBAL_IGNORE.match(line)
        if m:
            out |= to_if_ids(m.group(1).split(","))
    return out


def _ignores(lines: Sequence[str]) -> dict[int, set[str]]:
    """1-based line -> rule ids ignored there by the comment lines right above it
    (``# imageforge: ignore=IF...`` or hadolint's ``# hadolint ignore=DL...``)."""
    out: dict[int, set[str]] = {}
    pending: set[str] = set()
    for number, line in enumerate(lines, start=1):
        m = _IGNORE.match(line)
        if m:
            pending |= to_if_ids(m.group(2).split(","))
            continue
        if line.lstrip().startswith("#") and pending:
            continue  # another comment between the ignore and the instruction
        if pending and line.strip():
            out[number] = pending
            pending = set()
    return out


def _shell_pragmas(lines: Sequence[str]) -> tuple[tuple[int, str], ...]:
    """``# hadolint shell=<shell>`` comments: (line, shell), the shell the linter assumes
    for the RUNs below until a SHELL instruction."""
    return tuple(
        (n, m.group(1)) for n, line in enumerate(lines, start=1) if (m := _SHELL_PRAGMA.match(line))
    )


def _sc_severity(comment: ShellComment, policy: LintPolicy) -> Severity | None:
    """The severity of a ShellCheck finding under ``policy`` (None: not run)."""
    code = comment.code
    if policy.enable and not any(code.startswith(p.upper()) for p in policy.enable):
        return None
    if any(code.startswith(p.upper()) for p in policy.disable):
        return None
    return Severity(dict(policy.severity).get(code, comment.level))


def _runs_shellcheck(policy: LintPolicy) -> bool:
    if policy.enable and not any(p.upper().startswith("SC") for p in policy.enable):
        return False
    return not any(p.upper() == "SC" for p in policy.disable)


def _shellcheck(
    data: LintInput,
    lines: Sequence[str],
    policy: LintPolicy,
    ignored: dict[int, set[str]],
    everywhere: set[str],
    comments: Sequence[ShellComment],
) -> list[Finding]:
    out: list[Finding] = []
    dockerfile = data.dockerfile
    for c in comments:
        severity = _sc_severity(c, policy)
        if severity is None or c.code in everywhere or c.code in ignored.get(c.line, ()):
            continue
        out.append(
            Finding(
                rule_id=c.code,
                severity=severity,
                message=c.message,
                location=Location(dockerfile.file, c.line, 1),
                hint=f"https://www.shellcheck.net/wiki/{c.code}",
                snippet=lines[c.line - 1] if 0 < c.line <= len(lines) else None,
            )
        )
    return out


def _input(
    dockerfile: Dockerfile,
    lines: Sequence[str],
    context: ContextReport | None,
    policy: LintPolicy,
) -> LintInput:
    return LintInput(dockerfile, bases_of(dockerfile), context, policy, _shell_pragmas(lines))


def lint(
    dockerfile: Dockerfile,
    *,
    source: str | None = None,
    context: ContextReport | None = None,
    policy: LintPolicy | None = None,
    shell_comments: Sequence[ShellComment] | None = None,
) -> list[Finding]:
    """Check ``dockerfile`` against the standard. ``source`` is its text (for the
    snippets and the ``# imageforge: ignore=...`` comments); ``context`` the report of
    its build context when known (context rules run only then); ``shell_comments``
    ShellCheck's findings when already computed (see :func:`lint_paths`)."""
    policy = policy or LintPolicy()
    lines = source.splitlines() if source is not None else []
    data = _input(dockerfile, lines, context, policy)
    if shell_comments is None:
        return _checked(data, lines, policy, lambda: shellcheck_runs(data))
    return _checked(data, lines, policy, lambda: shell_comments)


def _checked(
    data: LintInput,
    lines: Sequence[str],
    policy: LintPolicy,
    shell_comments: Callable[[], Sequence[ShellComment]],
    rules: Sequence[tuple[Rule, Severity]] | None = None,
) -> list[Finding]:
    """The findings of the rules on ``data`` (``rules``: :func:`active_rules` of
    ``policy``, when a run over many files has worked them out once), then ShellCheck's
    (asked for last: in a batch they may still be running while the rules run)."""
    dockerfile = data.dockerfile
    ignored = _ignores(lines)
    everywhere = _global_ignores(lines)
    findings: list[Finding] = []
    for rule, severity in active_rules(policy) if rules is None else rules:
        if rule.needs_context and data.context is None:
            continue
        for h in rule.check(data):
            if rule.id in everywhere or rule.id in ignored.get(h.line, ()):
                continue
            snippet = lines[h.line - 1] if 0 < h.line <= len(lines) else None
            message = f"{rule.message} ({h.detail})" if h.detail else rule.message
            findings.append(
                Finding(
                    rule_id=rule.id,
                    severity=severity,
                    message=message,
                    location=Location(dockerfile.file, h.line, h.column),
                    end_line=h.end_line,
                    hint=rule.hint,
                    snippet=snippet,
                )
            )
    if _runs_shellcheck(policy):
        findings.extend(_shellcheck(data, lines, policy, ignored, everywhere, shell_comments()))
    findings.sort(key=lambda f: (f.location.line, f.location.column, f.rule_id))
    return findings


@dataclass(frozen=True)
class Fixed:
    """What :func:`fix_source` did: the new text and, per applied fix, the rule id and
    the line of the finding it removed (in the text as it was when fixed)."""

    text: str
    applied: tuple[tuple[str, int], ...] = ()

    def changed(self, original: str) -> bool:
        return self.text != original


def _overlaps(a: Sequence[Edit], b: Sequence[Edit]) -> bool:
    def span(e: Edit) -> tuple[int, int]:
        return e.start, max(e.end, e.start)

    return any(span(x)[0] <= span(y)[1] and span(y)[0] <= span(x)[1] for x in a for y in b)


def _apply(lines: list[str], groups: Sequence[Sequence[Edit]]) -> list[str]:
    out = list(lines)
    edits = sorted((e for g in groups for e in g), key=lambda e: (e.start, e.end), reverse=True)
    for e in edits:
        out[e.start - 1 : e.end] = list(e.lines)
    return out


def fix_source(
    text: str,
    *,
    file: str = "Dockerfile",
    context: ContextReport | None = None,
    policy: LintPolicy | None = None,
    max_passes: int = 10,
) -> Fixed:
    """Apply every active rule's ``fix`` to the findings it has in ``text`` (ignored
    findings are left alone), pass after pass until nothing changes; edits that touch
    the same lines wait for the next pass. A text that does not parse, or a pass whose
    result would not parse, is left as it is."""
    policy = policy or LintPolicy()
    applied: list[tuple[str, int]] = []
    rules = [r for r, _sev in active_rules(policy) if r.fix is not None]
    for _ in range(max_passes):
        try:
            dockerfile = parse(text, file=file)
        except InvalidArgument:
            break
        lines = text.split("\n")
        ignored, everywhere = _ignores(lines), _global_ignores(lines)
        data = LintInput(dockerfile, bases_of(dockerfile), context, policy, _shell_pragmas(lines))
        chosen: list[Sequence[Edit]] = []
        done: list[tuple[str, int]] = []
        for rule in rules:
            if rule.fix is None or (rule.needs_context and context is None):
                continue
            for h in rule.check(data):
                if rule.id in everywhere or rule.id in ignored.get(h.line, ()):
                    continue
                group = rule.fix(data, h, lines)
                if group and not any(_overlaps(group, c) for c in chosen):
                    chosen.append(group)
                    done.append((rule.id, h.line))
        if not chosen:
            break
        new = "\n".join(_apply(lines, chosen))
        try:
            parse(new, file=file)
        except InvalidArgument:
            break
        if new == text:
            break
        text = new
        applied += done
    return Fixed(text, tuple(applied))


def lint_source(
    text: str,
    *,
    file: str = "Dockerfile",
    context: ContextReport | None = None,
    policy: LintPolicy | None = None,
    shell_comments: Sequence[ShellComment] | None = None,
) -> list[Finding]:
    """Parse ``text`` and lint it. A file the parser refuses gives one IF001 finding
    at the parser's position (unless IF001 is disabled) instead of an error."""
    policy = policy or LintPolicy()
    try:
        dockerfile = parse(text, file=file)
    except InvalidArgument as exc:
        severity = dict(active_rules(policy)).get(SYNTAX)
        if severity is None:
            return []
        loc = exc.location or Location(file)
        lines = text.splitlines()
        snippet = lines[loc.line - 1] if 0 < loc.line <= len(lines) else None
        return [
            Finding(
                rule_id=SYNTAX.id,
                severity=severity,
                message=f"{SYNTAX.message} ({exc.message})",
                location=Location(file, loc.line, loc.column),
                hint=exc.hint or SYNTAX.hint,
                snippet=snippet,
            )
        ]
    return lint(
        dockerfile, source=text, context=context, policy=policy, shell_comments=shell_comments
    )


def lint_file(
    path: str | Path,
    *,
    context: ContextReport | None = None,
    policy: LintPolicy | None = None,
    display: str | None = None,
) -> list[Finding]:
    """Read, parse and lint the Dockerfile at ``path`` (reported as ``display``)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"cannot read {p}: {exc.strerror}") from None
    text = raw.decode("utf-8", errors="replace")
    return lint_source(text, file=display or str(p), context=context, policy=policy)


@functools.cache
def _stdin_bytes() -> bytes:
    """Standard input, read once however many times ``-`` is named."""
    return sys.stdin.buffer.read()


def _open(
    path: str | Path, context_dir: str | Path | None, *, strict: bool = False
) -> tuple[Path, str, ContextReport | None]:
    """The Dockerfile ``path`` names (a file, or a directory holding ``Dockerfile`` or
    ``Containerfile``, then also the context), its text, and its context report."""
    p = Path(path)
    if str(path) == "-":  # the Dockerfile on stdin, as hadolint and ``build -f -`` read it
        raw = _stdin_bytes()
    elif p.is_dir():
        context_dir = p if context_dir is None else context_dir
        for name in ("Dockerfile", "Containerfile"):
            if (p / name).is_file():
                p = p / name
                break
        else:
            raise NotFound(f"no Dockerfile in {path}", hint="give the Dockerfile's path")
    if str(path) != "-":
        if not p.exists():
            raise NotFound(f"no such Dockerfile: {path}")
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InvalidArgument(f"cannot read {p}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8", errors="strict" if strict else "replace")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{p} is not UTF-8 (byte {exc.start}); not rewritten",
            location=Location(str(p)),
        ) from None
    report: ContextReport | None = None
    if context_dir is not None:
        try:
            sources = context_sources(parse(text, file=str(p)))
        except InvalidArgument:
            sources = []
        report = context_report(context_dir, dockerfile=p, copy_sources=sources)
    return p, text, report


def lint_path(
    path: str | Path,
    *,
    context_dir: str | Path | None = None,
    policy: LintPolicy | None = None,
) -> tuple[str, list[Finding]]:
    """Lint ``path``: a Dockerfile, or a directory holding one (``Dockerfile``, else
    ``Containerfile``), which is then also the build context unless ``context_dir``
    names another. Returns the Dockerfile's path as reported and the findings."""
    p, text, report = _open(path, context_dir)
    display = str(p)
    return display, lint_source(text, file=display, context=report, policy=policy)


# Script text a run over many files gives one ShellCheck process while it parses the
# rest (about half a second of ShellCheck's work), while fewer processes than CPUs run:
# ShellCheck starts after the first few files instead of after the last one.
_SHELLCHECK_PART = 32_000


def lint_paths(
    paths: Sequence[str | Path],
    *,
    context_dir: str | Path | None = None,
    policy: LintPolicy | None = None,
    cache: bool = True,
) -> list[tuple[str, list[Finding]]]:
    """:func:`lint_path` for each of ``paths``, each parsed once, with ShellCheck run
    for all of them together (its findings remembered per script unless ``cache`` is
    false) instead of once per file: started on the RUNs of the first files while the
    others are read and parsed, the rest in one process per CPU before the rules run."""
    policy = policy or LintPolicy()
    batch = ShellcheckBatch(cache=cache) if _runs_shellcheck(policy) else None
    try:
        return _lint_all(paths, context_dir, policy, batch)
    finally:
        if batch is not None:
            batch.close()  # on an error: no shellcheck left running, no files left behind


def _lint_all(
    paths: Sequence[str | Path],
    context_dir: str | Path | None,
    policy: LintPolicy,
    batch: ShellcheckBatch | None,
) -> list[tuple[str, list[Finding]]]:
    opened: list[tuple[Path, str, ContextReport | None]] = []
    inputs: list[tuple[LintInput, list[str]] | None] = []
    for path in paths:
        p, text, report = _open(path, context_dir)
        opened.append((p, text, report))
        try:
            dockerfile = parse(text, file=str(p))
        except InvalidArgument:
            inputs.append(None)  # lint_source reports it as a syntax finding
            continue
        lines = text.splitlines()
        data = _input(dockerfile, lines, report, policy)
        inputs.append((data, lines))
        if batch is not None:
            batch.add(data)
            if batch.pending >= _SHELLCHECK_PART and batch.running < (os.cpu_count() or 1):
                batch.start(jobs=1)
    if batch is not None:
        batch.start()
    out: list[tuple[str, list[Finding]]] = []
    n = 0
    rules = active_rules(policy)
    for (p, text, report), item in zip(opened, inputs, strict=True):
        if item is None:
            out.append((str(p), lint_source(text, file=str(p), context=report, policy=policy)))
            continue
        data, lines = item

        def comments(n: int = n) -> list[ShellComment]:
            return batch.results()[n] if batch is not None else []

        out.append((str(p), _checked(data, lines, policy, comments, rules)))
        n += 1
    return out


def fix_path(
    path: str | Path,
    *,
    context_dir: str | Path | None = None,
    policy: LintPolicy | None = None,
) -> tuple[Path, str, Fixed]:
    """The fixes for the Dockerfile ``path`` names (as :func:`lint_path` finds it):
    its path, its text, and :func:`fix_source`'s result. Writes nothing; a file that is
    not UTF-8 is refused rather than rewritten with replacement characters."""
    p, text, report = _open(path, context_dir, strict=True)
    return p, text, fix_source(text, file=str(p), context=report, policy=policy)


def make_report(
    findings: Sequence[Finding], files: Sequence[str], policy: LintPolicy | None = None
) -> Report:
    """A :class:`~imageforge.report.Report` of a lint run (rules with their effective
    severities)."""
    rules = tuple(r.info(sev) for r, sev in active_rules(policy or LintPolicy()))
    return Report(
        tool="imageforge-lint",
        version=__version__,
        rules=rules,
        findings=tuple(findings),
        files=tuple(files),
        information_uri="https://github.com/imageforge/imageforge",
    )
