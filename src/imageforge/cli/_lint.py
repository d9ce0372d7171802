"""``imageforge lint``: check Dockerfiles against the build standard."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from imageforge.cli._app import app
from imageforge.cli._exit import EXIT_FINDINGS, EXIT_OK
from imageforge.cli._render import print_json, stdout_console
from imageforge.lint import (
    active_rules,
    all_rules,
    fix_path,
    hadolint_policy,
    lint_paths,
    make_report,
)
from imageforge.policy import Policy, find_policy, load_policy
from imageforge.report import (
    Finding,
    parse_threshold,
    write_checkstyle,
    write_codeclimate,
    write_github,
    write_json,
    write_junit,
    write_sarif,
    write_text,
)
from imageforge.store import atomic_write

DEFAULT_THRESHOLD = "warning"


def _list_rules(fmt: str, policy: Policy) -> None:
    active = dict(active_rules(policy.lint))
    if fmt == "json":
        print_json(
            [
                {
                    **r.info(active.get(r)).to_json(),
                    "section": r.section,
                    "enabled": r in active,
                    "needs_context": r.needs_context,
                }
                for r in all_rules(policy.lint)
            ]
        )
        return
    table = Table(box=None, show_header=True, pad_edge=False)
    for col in ("id", "severity", "name", "title"):
        table.add_column(col)
    for r in all_rules(policy.lint):
        sev = active[r].value if r in active else "off"
        table.add_row(r.id, sev, r.slug, r.title)
    stdout_console().print(table)


def _diff(targets: list[str], context_dir: Path | None, policy: Policy) -> bool:
    import difflib  # only for --diff

    any_change = False
    for target in targets:
        path, text, fixed = fix_path(target, context_dir=context_dir, policy=policy.lint)
        if not fixed.changed(text):
            continue
        any_change = True
        sys.stdout.writelines(
            difflib.unified_diff(
                text.splitlines(keepends=True),
                fixed.text.splitlines(keepends=True),
                fromfile=str(path) if path.is_absolute() else f"a/{path}",
                tofile=str(path) if path.is_absolute() else f"b/{path}",
            )
        )
    sys.stdout.flush()
    return any_change


def _fix(targets: list[str], context_dir: Path | None, policy: Policy) -> None:
    for target in targets:
        path, text, fixed = fix_path(target, context_dir=context_dir, policy=policy.lint)
        if not fixed.changed(text):
            continue
        mode = path.stat().st_mode & 0o7777
        atomic_write(path, fixed.text.encode("utf-8"), mode=mode)
        rules = ", ".join(sorted({rid for rid, _line in fixed.applied}))
        click.echo(f"{path}: fixed {len(fixed.applied)} finding(s) ({rules})", err=True)


@app.command("lint")
@click.argument("paths", nargs=-1, metavar="[PATH...]")
@click.option(
    "--context",
    "context_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="The build context, for the context rules (IF6xx). A directory PATH is its own context.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github", "checkstyle", "junit", "codeclimate"]),
    default="text",
    show_default=True,
    help="text for people (source line, caret, advice), json for scripts, sarif (2.1.0) "
    "for code-scanning services, github for GitHub Actions annotations, checkstyle "
    "(XML) for CI report plugins, junit (XML), codeclimate (GitLab code quality).",
)
@click.option(
    "--failure-threshold",
    type=click.Choice(["error", "warning", "info", "style", "none"]),
    help=f"Exit 1 when a finding is this severe or worse (default: the policy's, else "
    f"{DEFAULT_THRESHOLD}); none never fails.",
)
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="imageforge.toml, pyproject.toml or a hadolint .hadolint.yaml to read (default: "
    "the nearest imageforge.toml/pyproject.toml above the first PATH, else .hadolint.yaml "
    "in the current directory).",
)
@click.option("--list-rules", is_flag=True, help="List the rules and exit.")
@click.option(
    "--fix",
    is_flag=True,
    help="Rewrite each Dockerfile with the rules' safe fixes (atomically), then report "
    "what is left.",
)
@click.option(
    "--diff",
    is_flag=True,
    help="Print the fixes as a unified diff and change nothing; exit 1 when there is one.",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Run ShellCheck on every RUN even when its findings on the same script are "
    "remembered (in the user's cache directory; also IMAGEFORGE_NO_LINT_CACHE=1).",
)
def lint_command(
    paths: tuple[str, ...],
    context_dir: Path | None,
    fmt: str,
    failure_threshold: str | None,
    config: Path | None,
    list_rules: bool,
    fix: bool,
    diff: bool,
    no_cache: bool,
) -> int:
    """Check Dockerfiles (default ./Dockerfile) against the build standard.

    A PATH may be a Dockerfile, a directory holding one (which is also the build
    context), or - for standard input. Exit 0 when no finding reaches the failure
    threshold, 1 when one does.
    """
    if fix and diff:
        raise click.UsageError("--fix and --diff do not go together: --diff shows, --fix writes")
    targets = list(paths) or ["Dockerfile"]
    if fix and "-" in targets:
        raise click.UsageError("--fix rewrites files, and - is standard input: use --diff")
    policy_file = config or find_policy(Path(targets[0]))
    if policy_file is None and Path(".hadolint.yaml").is_file():
        policy_file = Path(".hadolint.yaml")
    if policy_file is not None and policy_file.suffix in (".yaml", ".yml"):
        policy = Policy(lint=hadolint_policy(policy_file), source=str(policy_file))
    else:
        policy = load_policy(policy_file) if policy_file else Policy()
    if list_rules:
        _list_rules(fmt, policy)
        return EXIT_OK
    threshold = parse_threshold(
        failure_threshold or policy.lint.failure_threshold or DEFAULT_THRESHOLD
    )
    if diff:
        return EXIT_FINDINGS if _diff(targets, context_dir, policy) else EXIT_OK
    if fix:
        _fix(targets, context_dir, policy)
    files: list[str] = []
    findings: list[Finding] = []
    for shown, found in lint_paths(
        targets, context_dir=context_dir, policy=policy.lint, cache=not no_cache
    ):
        files.append(shown)
        findings.extend(found)
    report = make_report(findings, files, policy.lint)
    if fmt == "json":
        write_json(report, sys.stdout)
    elif fmt == "sarif":
        write_sarif(report, sys.stdout)
    elif fmt == "junit":
        write_junit(report, sys.stdout)
    elif fmt == "codeclimate":
        write_codeclimate(report, sys.stdout)
    elif fmt == "checkstyle":
        write_checkstyle(report, sys.stdout)
    elif fmt == "github":
        write_github(report, sys.stdout)
    else:
        write_text(report, sys.stdout)
    sys.stdout.flush()
    return EXIT_FINDINGS if report.fails(threshold) else EXIT_OK
