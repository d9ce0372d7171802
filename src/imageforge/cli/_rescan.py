"""``imageforge rescan``: the store's images matched again against the current
vulnerability database, reporting only the findings that are new since each image's
last rescan; exit code and thresholds as ``scan``'s."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions, authfile_option, tls_option
from imageforge.cli._render import print_json
from imageforge.cli._scan import _gate, _policy, _rules, _warn, database_sources
from imageforge.cli._session import session
from imageforge.errors import InvalidArgument
from imageforge.pipeline._rescan import Rescan, rescan_store
from imageforge.scan import ScanCache, ScanOptions, open_database
from imageforge.store import StoreLayout, atomic_write


def _sarif(done: Rescan) -> bytes:
    """One SARIF log: one run per image that has new findings (none: one empty run)."""
    from imageforge import __version__
    from imageforge.report import Report, to_sarif

    runs = [run for image in done.images for run in image.sarif]
    doc = to_sarif(Report(tool="imageforge", version=__version__, rules=(), findings=()))
    if runs:
        doc["runs"] = runs
    return json.dumps(doc, indent=2).encode() + b"\n"


def _text(done: Rescan) -> str:
    lines = []
    for image in done.images:
        name = ", ".join(image.names)
        if not image.scanned:
            lines.append(f"{name}: not scanned (last rescan used this database)")
            continue
        first = " (first rescan: every finding is new)" if image.previous is None else ""
        lines.append(f"{name}: {len(image.new)} new finding(s){first}")
        for f in image.new:
            fixed = f" (fixed in {f.fixed})" if f.fixed else ""
            lines.append(f"  {f.id} {f.severity} {f.package} {f.version}{fixed}")
        if image.gone:
            lines.append(f"  no longer found: {', '.join(image.gone)}")
    total = sum(len(i.new) for i in done.images)
    scanned = sum(1 for i in done.images if i.scanned)
    lines.append(f"{total} new finding(s) in {scanned} image(s) rescanned of {len(done.images)}")
    return "\n".join(lines) + "\n"


def _project(images: tuple[str, ...]) -> tuple[str, str] | None:
    """(host, project) when IMAGES is one REGISTRY/PROJECT (no tag, no deeper path),
    else None: store images."""
    texts = [t.removeprefix("docker://") for t in images]
    if len(texts) != 1:
        return None
    host, _, rest = texts[0].partition("/")
    is_host = "." in host or ":" in host or host == "localhost"
    if not is_host or not rest or any(c in rest for c in "/:@"):
        if images[0].startswith("docker://"):
            raise InvalidArgument(
                f"{images[0]}: rescan takes a registry project, not an image",
                hint="imageforge rescan REGISTRY/PROJECT (or store images by name)",
            )
        return None
    return host, rest


@app.command("rescan")
@click.argument("images", nargs=-1)
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["table", "text", "json", "sarif"]),
    default="table",
    show_default=True,
    help="table (or text) for people, json, or sarif (one run per image with new findings).",
)
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the report to FILE (atomically) instead of stdout.",
)
@click.option(
    "--severity", "-s", metavar="LIST", help="Exit 1 when a new finding has one of these."
)
@click.option(
    "--min-cvss",
    type=click.FloatRange(0.0, 10.0),
    metavar="SCORE",
    help="Exit 1 when a new finding's CVSS base score reaches SCORE.",
)
@click.option(
    "--ignore-unfixed/--no-ignore-unfixed",
    default=None,
    help="Leave out new findings that have no fixed version yet.",
)
@click.option(
    "--exit-code",
    type=click.IntRange(0, 255),
    metavar="N",
    help="Exit N instead of 1; alone, exit N when anything new is found (as scan).",
)
@click.option("--offline", is_flag=True, help="Use the database as it is (no update).")
@click.option(
    "--force", is_flag=True, help="Scan every image, also those last rescanned with this database."
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="imageforge.toml whose [scan] holds suppressions and the gate.",
)
@tls_option
@authfile_option
@click.pass_obj
def rescan_command(
    opts: GlobalOptions,
    images: tuple[str, ...],
    fmt: str,
    output: Path | None,
    severity: str | None,
    min_cvss: float | None,
    ignore_unfixed: bool | None,
    exit_code: int | None,
    offline: bool,
    force: bool,
    config: Path | None,
    tls_verify: bool,
    authfile: Path | None,
) -> int:
    """Scan the store's images (IMAGES, default all) again against the current
    vulnerability database and report only what is new since each image's last rescan
    (the first rescan of an image reports all it finds). An image last rescanned with
    the same database is not scanned again (--force does); what was read from each image
    is kept, so a rescan reads no layer twice.

    With REGISTRY/PROJECT (an imageforge registry), the registry scans every image of
    the project again with its own database (its scan jobs) and the findings new since
    the last rescan from here are reported.

    Exit 0, or 1 (--exit-code) when a new finding reaches --severity/--min-cvss (or the
    [scan] gate of imageforge.toml); --exit-code alone fails on any new finding.
    """
    policy = _policy(config)
    gate = _gate(policy, severity, min_cvss, ignore_unfixed, exit_code)
    cache = ScanCache(StoreLayout(opts.root).scan_cache)
    project = _project(images)
    if project is not None:
        from imageforge.pipeline._rescan_registry import rescan_project

        with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
            done = rescan_project(s, project[0], project[1], cache, gate)
        return _show(done, fmt, output)
    options = ScanOptions(rules=tuple(_rules(policy, (), ())))
    db, status = open_database(opts.root, offline=offline, warn=_warn, config=database_sources())
    with ExitStack() as stack:
        stack.enter_context(db)
        s = stack.enter_context(session(opts))
        done = rescan_store(
            s,
            db,
            status,
            cache,
            gate,
            options,
            names=list(images) or None,
            force=force,
        )
    return _show(done, fmt, output)


def _show(done: Rescan, fmt: str, output: Path | None) -> int:
    if fmt == "json" and output is None:
        print_json(done.to_json())
        return done.exit_code
    if fmt == "json":
        data = json.dumps(done.to_json(), indent=2).encode() + b"\n"
    elif fmt == "sarif":
        data = _sarif(done)
    else:
        data = _text(done).encode()
    if output is not None:
        atomic_write(output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return done.exit_code


__all__ = ["rescan_command"]
