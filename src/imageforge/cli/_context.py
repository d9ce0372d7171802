"""``imageforge context``: how big the build context is and what a better
``.dockerignore`` would save."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from imageforge.cli._app import app
from imageforge.cli._options import OutputFormat, format_option
from imageforge.cli._progress import ProgressMode, progress_option, progress_sink
from imageforge.cli._render import print_json, stdout_console
from imageforge.dockerfile import (
    ContextReport,
    context_report,
    context_sources,
    parse,
    write_dockerignore,
)
from imageforge.errors import InvalidArgument, NotFound


def _copy_sources(dockerfile_text: str, file: str = "Dockerfile") -> list[str]:
    """The context paths COPY and ADD read (no ``--from``, no heredocs), via the parser."""
    return context_sources(parse(dockerfile_text, file=file))


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop always returns


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _render_table(report: ContextReport, written: Path | None) -> None:
    console = stdout_console()
    source = report.ignore_file or "no .dockerignore"
    console.print(f"context {report.context} ({source}, {len(report.ignore_lines)} patterns)")

    sizes = Table(title="size", title_justify="left")
    sizes.add_column("")
    sizes.add_column("files", justify="right")
    sizes.add_column("bytes", justify="right")
    sizes.add_column("size", justify="right")
    for label, totals in (
        ("before .dockerignore", report.before),
        ("after .dockerignore", report.after),
        ("with the suggestion", report.with_suggestion),
    ):
        sizes.add_row(label, str(totals.files), str(totals.bytes), _size(totals.bytes))
    console.print(sizes)

    if report.biggest:
        big = Table(title="biggest paths sent", title_justify="left")
        big.add_column("path", overflow="fold")
        big.add_column("type")
        big.add_column("files", justify="right")
        big.add_column("size", justify="right")
        for item in report.biggest:
            big.add_row(item.path, str(item.type), str(item.files), _size(item.bytes))
        console.print(big)

    if report.unwanted:
        unwanted = Table(title="probably unwanted", title_justify="left")
        unwanted.add_column("path", overflow="fold")
        unwanted.add_column("what")
        unwanted.add_column("files", justify="right")
        unwanted.add_column("size", justify="right")
        unwanted.add_column("suggested line", overflow="fold")
        for u in report.unwanted:
            what = f"[red]{u.category}[/red]" if u.secret else u.category
            line = u.pattern or f"[yellow]kept: {u.kept_because}[/yellow]"
            unwanted.add_row(u.path, what, str(u.files), _size(u.bytes), line)
        console.print(unwanted)
    else:
        console.print("nothing probably unwanted found")

    saving = report.saving
    if report.suggestion:
        console.print(f"suggested lines for {report.suggestion_target}:")
        for line in report.suggestion:
            console.print(f"  {line}", markup=False)
        console.print(
            f"saving: {saving.files} files, {_size(saving.bytes)} "
            f"({_percent(saving.bytes, report.after.bytes)} of the bytes sent)"
        )
    for affected in report.affected_sources:
        drops = ", ".join(affected.drops[:5]) + (" ..." if len(affected.drops) > 5 else "")
        console.print(
            f"COPY/ADD {affected.source} would no longer include: {drops} "
            f"({affected.files} files, {_size(affected.bytes)})",
            markup=False,
        )
    for source in report.ignored_sources:
        console.print(
            f"[yellow]warning:[/yellow] COPY/ADD source {source} is already ignored; "
            "the build cannot see it"
        )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")
    if written is not None:
        console.print(f"wrote {len(report.suggestion)} lines to {written}")


@app.command("context")
@click.argument("directory", default=".", type=click.Path(path_type=Path))
@click.option(
    "-f",
    "--file",
    "dockerfile",
    type=click.Path(path_type=Path),
    help="The Dockerfile (default: DIR/Dockerfile); its COPY/ADD sources are never "
    "suggested for ignoring, and <Dockerfile>.dockerignore wins over DIR/.dockerignore.",
)
@click.option(
    "--write-dockerignore",
    "write",
    is_flag=True,
    help="Append the suggested lines to the ignore file in effect (atomically).",
)
@click.option("--top", default=10, show_default=True, help="How many biggest paths to list.")
@format_option
@progress_option
def context(
    directory: Path,
    dockerfile: Path | None,
    write: bool,
    top: int,
    fmt: OutputFormat,
    progress: ProgressMode,
) -> None:
    """Measure the build context DIR before and after .dockerignore, list its biggest
    and probably unwanted paths, and suggest .dockerignore lines with their saving."""
    if not directory.exists():
        raise NotFound(f"build context {directory} does not exist", hint="check DIR")
    if not directory.is_dir():
        raise InvalidArgument(f"build context {directory} is not a directory")
    if dockerfile is None:
        default = directory / "Dockerfile"
        dockerfile = default if default.is_file() else None
    elif not dockerfile.is_file():
        raise NotFound(f"Dockerfile {dockerfile} does not exist", hint="check -f")
    sources: list[str] = []
    if dockerfile is not None:
        # The Dockerfile is read even when .dockerignore leaves it out of the context.
        text = dockerfile.read_text(encoding="utf-8", errors="replace")
        sources = _copy_sources(text, str(dockerfile))
    with progress_sink(progress) as sink:
        report = context_report(
            directory, dockerfile=dockerfile, copy_sources=sources, top=top, progress=sink
        )
    written: Path | None = None
    if write and report.suggestion:
        written = write_dockerignore(report.suggestion_target, report.suggestion)
    if fmt is OutputFormat.JSON:
        data = report.to_json()
        data["written"] = str(written) if written is not None else None
        print_json(data)
    else:
        _render_table(report, written)
