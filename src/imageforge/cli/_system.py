"""``imageforge system ...``: what this machine can do."""

from __future__ import annotations

import os

import click
from rich.table import Table

from imageforge.cli._app import ROOTLESS_FAILURE, ROOTLESS_PLAN, app
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._progress import ProgressMode, progress_option, progress_sink
from imageforge.cli._render import print_json, stdout_console
from imageforge.errors import Unavailable
from imageforge.runtime import SystemReport, check_system


@app.group("system")
def system_app() -> None:
    """Inspect this machine."""


def _render_table(report: SystemReport) -> None:
    console = stdout_console()
    table = Table(title=f"imageforge system check (root {report.root})", title_justify="left")
    table.add_column("check")
    table.add_column("status")
    table.add_column("details", overflow="fold")
    for item in report.items:
        status = "[green]ok[/green]" if item.ok else "[red]no[/red]"
        details = item.summary + (f"\n[dim]hint: {item.hint}[/dim]" if item.hint else "")
        table.add_row(item.name, status, details)
    console.print(table)
    console.print(f"builds will use runtime: {report.runtime or 'none'}")


@system_app.command("check")
@format_option
@progress_option
@click.pass_context
def check(ctx: click.Context, fmt: OutputFormat, progress: ProgressMode) -> None:
    """Probe runtimes, overlayfs, user namespaces, rootless readiness, cgroups, the
    sandbox (seccomp profile, private network), binfmt, peer tools and disk. A user who
    is not root is checked inside the user namespace builds run in (their /etc/subuid
    ranges mapped).

    Exits 0 when images can be built here with the defaults (a working OCI runtime and
    overlayfs, the seccomp profile and the private network, and for a user who is not
    root, rootless mode), 10 (unavailable) otherwise, after the report.
    """
    opts: GlobalOptions = ctx.obj
    with progress_sink(progress) as sink:
        report = check_system(
            opts.root,
            progress=sink,
            rootless=ctx.meta.get(ROOTLESS_PLAN),
            rootless_failure=ctx.meta.get(ROOTLESS_FAILURE),
        )
    if fmt is OutputFormat.JSON:
        print_json(report.to_json())
    else:
        _render_table(report)
    missing = []
    if os.geteuid() != 0 and not report.item("rootless").ok:
        missing.append("rootless mode is not set up for this user")
    if not report.item("root").ok:
        missing.append(f"the store root {report.root} is unusable")
    if report.runtime is None:
        missing.append("no OCI runtime can start a container")
    if not report.item("overlayfs").ok:
        missing.append("overlayfs cannot be mounted")
    if not report.item("seccomp").ok:
        missing.append("RUN steps' default seccomp profile is missing")
    if not report.item("network").ok:
        missing.append("RUN steps' default private network cannot be set up")
    if missing:
        raise Unavailable(
            "this machine cannot build images: " + "; ".join(missing),
            hint="see the hints in the report above",
        )
