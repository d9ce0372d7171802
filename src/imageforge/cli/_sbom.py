"""``imageforge sbom``: the packages of an image or a directory, as a table, imageforge
JSON, SPDX 2.3 or CycloneDX 1.6 (syft)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from imageforge.cli._app import app
from imageforge.cli._exit import EXIT_OK
from imageforge.cli._options import GlobalOptions, authfile_option, platform_option, tls_option
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._session import session
from imageforge.oci import Platform
from imageforge.pipeline import sbom
from imageforge.sbom import FORMATS, render
from imageforge.store import atomic_write


@app.command("sbom")
@click.argument("target")
@click.option(
    "--format",
    "-o",
    "--output",
    "fmt",
    type=click.Choice([*FORMATS, "text"]),
    default="table",
    show_default=True,
    help="table or text (NAME VERSION TYPE), json (imageforge's schema), spdx-json "
    "(SPDX 2.3), cyclonedx-json (CycloneDX 1.6).",
)
@click.option(
    "--file",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the SBOM to FILE (atomically) instead of stdout.",
)
@platform_option
@tls_option
@authfile_option
@progress_option
@click.pass_obj
def sbom_command(
    opts: GlobalOptions,
    target: str,
    fmt: str,
    out: Path | None,
    platform: str | None,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
) -> int:
    """List the packages in TARGET: OS packages (dpkg, apk, rpm) and language packages.

    TARGET is a directory when one of that name exists, else an image: a name or ID in
    the store, or oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME],
    docker://REF (an index's image for --platform, default this machine's).
    A file that cannot be read is reported on stderr (one line per file) and the SBOM is
    still produced, with exit code 0. Same input, same bytes out: time stamps come from
    SOURCE_DATE_EPOCH, else the image's creation time, else the Unix epoch.
    """
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        result = sbom(s, target, Platform.parse(platform) if platform else None)
    data = render(result, "table" if fmt == "text" else fmt)
    err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    if out is not None:
        atomic_write(out, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK
