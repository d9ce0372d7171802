"""``imageforge vulndb import|update|status``: the vulnerability database under the store
root (``<root>/vulndb/vuln.db``), which scans read."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._render import print_json, stdout_console
from imageforge.vuln import (
    DEFAULT_DEBIAN_URL,
    DEFAULT_ECOSYSTEMS,
    DEFAULT_OSV_URL,
    SourceStatus,
    UpdateConfig,
    db_status,
    import_source,
    update,
)


def _warn(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True, emoji=False).print(
        f"warning: {message}", markup=False
    )


def _source_json(s: SourceStatus) -> dict[str, object]:
    return {
        "name": s.name,
        "kind": s.kind,
        "location": s.location,
        "importedAt": s.imported_at,
        "advisories": s.advisories,
        "affected": s.affected,
        "warnings": s.warnings,
        "etag": s.etag,
        "lastModified": s.last_modified,
    }


def _sources_table(sources: list[SourceStatus] | tuple[SourceStatus, ...]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("SOURCE", "ADVISORIES", "PACKAGES", "WARNINGS", "IMPORTED"):
        table.add_column(column, no_wrap=column != "SOURCE")
    for s in sources:
        table.add_row(s.name, str(s.advisories), str(s.affected), str(s.warnings), s.imported_at)
    return table


@app.group("vulndb")
def vulndb_app() -> None:
    """The vulnerability database scans read: import advisories, update them, show status."""


@vulndb_app.command("import")
@click.argument("source")
@format_option
@click.pass_obj
def import_cmd(opts: GlobalOptions, source: str, fmt: OutputFormat) -> None:
    """Import advisories from SOURCE, replacing what SOURCE gave before.

    SOURCE is osv:DIR|ZIP|FILE (OSV JSON or YAML records, osv.dev's all.zip),
    debian-tracker:DIR (a checkout of Debian's security tracker: data/CVE/list, data/DSA/list,
    data/DLA/list), debian-tracker-json:FILE (the tracker's JSON export) or
    alpine-secdb:FILE|DIR. A record that cannot be read is one warning on stderr and the
    rest is imported; the new database replaces the old one only when the import is done.
    """
    report = import_source(opts.root, source, _warn)
    if fmt is OutputFormat.JSON:
        print_json({"source": _source_json(report.source), "warnings": list(report.warnings)})
        return
    s = report.source
    stdout_console().print(
        f"imported {s.advisories} advisories ({s.affected} package entries) from {s.name}"
        + (f", {s.warnings} skipped with a warning" if s.warnings else ""),
        markup=False,
    )


@vulndb_app.command("update")
@click.option(
    "--osv-url",
    default=DEFAULT_OSV_URL,
    show_default=True,
    envvar="IMAGEFORGE_VULNDB_OSV_URL",
    help="Base URL of OSV's per-ecosystem zips (<url>/<ecosystem>/all.zip); a mirror may "
    "stand in ($IMAGEFORGE_VULNDB_OSV_URL).",
)
@click.option(
    "--ecosystem",
    "ecosystems",
    multiple=True,
    metavar="NAME",
    help=f"An OSV ecosystem to fetch (repeatable; default: {', '.join(DEFAULT_ECOSYSTEMS)}).",
)
@click.option(
    "--debian-url",
    default=DEFAULT_DEBIAN_URL,
    show_default=True,
    envvar="IMAGEFORGE_VULNDB_DEBIAN_URL",
    help="The Debian security tracker's JSON export ($IMAGEFORGE_VULNDB_DEBIAN_URL).",
)
@click.option("--no-debian", is_flag=True, help="Do not fetch the Debian tracker's export.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds per request.")
@format_option
@click.pass_obj
def update_cmd(
    opts: GlobalOptions,
    osv_url: str,
    ecosystems: tuple[str, ...],
    debian_url: str,
    no_debian: bool,
    timeout: float,
    fmt: OutputFormat,
) -> None:
    """Download the advisories (conditional requests: unchanged sources are kept) and swap
    in a database built from them. A failed download leaves the previous database in use."""
    config = UpdateConfig(
        osv_url=osv_url,
        ecosystems=ecosystems or DEFAULT_ECOSYSTEMS,
        debian_url=None if no_debian else debian_url,
        timeout=timeout,
    )
    sources = update(opts.root, config, _warn)
    if fmt is OutputFormat.JSON:
        print_json({"sources": [_source_json(s) for s in sources]})
        return
    stdout_console().print(_sources_table(sources))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 3600:
        return f"{int(seconds // 60)} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


@vulndb_app.command("status")
@format_option
@click.pass_obj
def status_cmd(opts: GlobalOptions, fmt: OutputFormat) -> None:
    """Where the database is, its sources and record counts, and its age (stale after a
    day, as trivy judges it)."""
    st = db_status(opts.root)
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "path": str(st.path),
                "exists": st.exists,
                "size": st.size,
                "updatedAt": st.updated_at,
                "ageSeconds": st.age_seconds,
                "stale": st.stale,
                "advisories": st.advisories,
                "sources": [_source_json(s) for s in st.sources],
            }
        )
        return
    out = stdout_console()
    if not st.exists:
        out.print(f"no vulnerability database at {st.path}", markup=False)
        out.print(
            "run `imageforge vulndb update` or `imageforge vulndb import SOURCE`", markup=False
        )
        return
    out.print(
        f"{st.path}: {st.advisories} advisories, {st.size} bytes, updated {st.updated_at} "
        f"({_age(st.age_seconds)} ago{', stale' if st.stale else ''})",
        markup=False,
    )
    out.print(_sources_table(st.sources))


__all__ = ["vulndb_app"]
