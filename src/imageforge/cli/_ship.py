"""``imageforge ship``, ``promote`` and ``retire``: the lifecycle of the ``[environments]`` in
``imageforge.toml``. Each parses its flags, calls one ``imageforge.pipeline`` function and
renders what it did; a promotion a gate refuses exits 1 with every gate listed."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from imageforge.cli._app import app
from imageforge.cli._exit import EXIT_FINDINGS, EXIT_OK
from imageforge.cli._options import (
    GlobalOptions,
    OutputFormat,
    authfile_option,
    format_option,
    tls_option,
)
from imageforge.cli._render import print_json
from imageforge.cli._scan import _policy, _warn, database_sources
from imageforge.cli._session import session
from imageforge.cli._sign import password_source
from imageforge.errors import InvalidArgument
from imageforge.pipeline import (
    GateOutcome,
    GatesFailed,
    Retired,
    ShipReport,
    VulnGate,
    key_signer,
    promote,
    retire,
    ship,
)
from imageforge.store import atomic_write

_KEY = click.Path(dir_okay=False, path_type=Path)


def _gate_lines(outcomes: tuple[GateOutcome, ...]) -> None:
    if sys.stdout.isatty():
        table = Table(box=None, pad_edge=False)
        for column in ("GATE", "RESULT", "IMAGE", "DETAIL"):
            table.add_column(column)
        for o in outcomes:
            result = "[green]pass[/]" if o.passed else "[red]FAIL[/]"
            table.add_row(o.gate, result, o.image[:19], o.detail)
        Console().print(table)
        return
    for o in outcomes:
        click.echo(f"{'pass' if o.passed else 'FAIL'} {o.gate} {o.image}: {o.detail}")


def _vulns(opts: GlobalOptions, stack: ExitStack, offline: bool, rescan: bool = False) -> VulnGate:
    from imageforge.scan import ScanCache, open_database
    from imageforge.store import StoreLayout

    db, status = open_database(opts.root, offline=offline, warn=_warn, config=database_sources())
    stack.enter_context(db)
    return VulnGate(db, status, ScanCache(StoreLayout(opts.root).scan_cache), rescan)


@app.command("promote")
@click.argument("image")
@click.option("--to", "to", required=True, help="The environment of imageforge.toml to enter.")
@click.option(
    "--key",
    "key",
    type=_KEY,
    help="Private key (cosign.key) signing the promotion record; without it none is kept.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The policy file (default: imageforge.toml found from here upwards).",
)
@click.option("--offline", is_flag=True, help="Scan with the database as it is (no update).")
@click.option(
    "--rescan",
    is_flag=True,
    help="Scan again even when a result of the same database is stored for the image.",
)
@tls_option
@authfile_option
@format_option
@click.pass_obj
def promote_command(
    opts: GlobalOptions,
    image: str,
    to: str,
    key: Path | None,
    config: Path | None,
    offline: bool,
    rescan: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> int:
    """Promote IMAGE into the environment --to: by digest, only when that environment's
    gates pass (every image of an index), copied with its signatures, attestations and
    SBOM, the promotion recorded as a signed attestation (--key). The vulnerability gate's
    result is kept per image and database: a later promotion of the same digest reuses it
    while the database is unchanged (--rescan scans anyway).

    IMAGE is REGISTRY/PROJECT/NAME[:TAG|@DIGEST], or NAME[:TAG] in the environment before
    --to. Exit 0 promoted, 1 a gate refused it (each gate listed), 2 and up an error.
    """
    policy = _policy(config)
    if not policy.environments:
        raise InvalidArgument(
            "the policy file has no [environments]",
            hint="add [environments.NAME] tables with a registry (see README, From dev to prod)",
        )
    target = policy.environment(to)
    signer = key_signer(key, password_source()) if key is not None else None
    with ExitStack() as stack:
        vulns = None
        if target.severity or target.min_cvss is not None:
            vulns = _vulns(opts, stack, offline, rescan)
        s = stack.enter_context(session(opts, tls_verify=tls_verify, authfile=authfile))
        try:
            done = promote(s, policy, image, to, signer=signer, vulns=vulns)
        except GatesFailed as exc:
            if fmt is OutputFormat.JSON:
                print_json(
                    {
                        "image": image,
                        "to": to,
                        "promoted": False,
                        "error": str(exc),
                        "gates": [o.to_json() for o in exc.outcomes],
                    }
                )
            else:
                _gate_lines(exc.outcomes)
            Console(stderr=True, highlight=False).print(f"error: {exc}", markup=False)
            return EXIT_FINDINGS
    if signer is None:
        _warn("no --key: the promotion is not recorded as an attestation")
    if fmt is OutputFormat.JSON:
        print_json(done.to_json())
    else:
        _gate_lines(done.outcomes)
        click.echo(f"Promoted {done.source} -> {done.tagged} ({done.destination.digest})")
    return EXIT_OK


@app.command("retire")
@click.argument("image")
@click.option(
    "--archive",
    "archive",
    help="oci-archive:FILE to keep the image in, with its signatures and attestations.",
)
@click.option(
    "--policy",
    is_flag=True,
    help="IMAGE is REGISTRY/PROJECT: retire what the project's retention rules delete.",
)
@click.option(
    "--archive-dir",
    "archive_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --policy: the directory to archive each retired image in (one oci-archive"
    " per image, named REPOSITORY@sha256-DIGEST.tar).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be archived and deleted.")
@tls_option
@authfile_option
@format_option
@click.pass_obj
def retire_command(
    opts: GlobalOptions,
    image: str,
    archive: str | None,
    policy: bool,
    archive_dir: Path | None,
    dry_run: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Retire IMAGE (docker://REF, or a name in the store): archive it whole with its
    referrers (--archive oci-archive:FILE; `imageforge import` restores it with the same
    digest), then delete it at the registry (its tags go with it) or remove its store
    names and prune what no other image uses.

    With --policy, IMAGE is REGISTRY/PROJECT of an imageforge registry: the images its
    retention rules would delete (latest N pushed or pulled, pushed or pulled within N
    days...) are each archived to --archive-dir, then deleted; --dry-run lists them.
    """
    if policy:
        _retire_policy(opts, image, archive, archive_dir, dry_run, tls_verify, authfile, fmt)
        return
    if archive_dir is not None:
        raise InvalidArgument("--archive-dir goes with --policy", hint="--archive oci-archive:FILE")
    path = None
    if archive is not None:
        if not archive.startswith("oci-archive:"):
            raise InvalidArgument(
                f"--archive {archive}: retire archives to an oci-archive:",
                hint="--archive oci-archive:FILE.tar",
            )
        path = Path(archive.removeprefix("oci-archive:"))
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        done = retire(s, image, archive=path, dry_run=dry_run)
    if fmt is OutputFormat.JSON:
        print_json(done.to_json())
        return
    for line in _retired_lines(done):
        click.echo(line)


def _retired_lines(done: Retired) -> list[str]:
    verb = "would " if done.dry_run else ""
    lines: list[str] = []
    if done.archive:
        lines.append(f"{verb}archive {done.image} ({done.digest}) to {done.archive}")
    lines += [f"{verb}delete {d}" for d in done.deleted]
    if done.archive and not done.dry_run:
        lines.append(f"restore with: imageforge import {done.archive} -t NAME[:TAG]")
    if not done.dry_run and done.freed:
        lines.append(f"freed {done.freed} bytes")
    return lines


def _retire_policy(
    opts: GlobalOptions,
    project: str,
    archive: str | None,
    archive_dir: Path | None,
    dry_run: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    from imageforge.pipeline._retire_policy import retire_by_policy

    if archive is not None:
        raise InvalidArgument(
            "--archive names one file: with --policy give --archive-dir DIR",
            hint="imageforge retire --policy REGISTRY/PROJECT --archive-dir DIR",
        )
    host, _, name = project.removeprefix("docker://").partition("/")
    if not name or any(c in name for c in "/:@"):
        raise InvalidArgument(
            f"--policy {project}: give a registry project, REGISTRY/PROJECT",
            hint="e.g. imageforge retire --policy registry.example.com/library --dry-run",
        )
    if archive_dir is None and not dry_run:
        _warn("no --archive-dir: the retired images are deleted without an archive")
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        done = retire_by_policy(s, host, name, archive_dir=archive_dir, dry_run=dry_run)
    if fmt is OutputFormat.JSON:
        print_json(done.to_json())
        return
    click.echo(f"rules of {host}/{name}: " + "; ".join(done.rules))
    for retired, tags in done.retired:
        click.echo(f"{retired.image} ({', '.join(tags) or 'untagged'}):")
        for line in _retired_lines(retired):
            click.echo(f"  {line}")
    verb = "would retire" if dry_run else "retired"
    click.echo(f"{verb} {len(done.retired)} image(s), {done.retained} retained by the rules")


def _ship_summary(report: ShipReport) -> None:
    if sys.stdout.isatty():
        table = Table(
            box=None, pad_edge=False, title=f"ship {report.image} -> {report.environment}"
        )
        for column in ("STAGE", "STATUS", "DETAIL"):
            table.add_column(column)
        colour = {"passed": "green", "failed": "red", "skipped": "dim"}
        for st in report.stages:
            table.add_row(st.name, f"[{colour[st.status]}]{st.status}[/]", st.detail)
        Console().print(table)
        return
    for st in report.stages:
        click.echo(f"{st.name}: {st.status}{f' ({st.detail})' if st.detail else ''}")


def ship_html(report: ShipReport) -> str:
    """The report as one self-contained HTML page (no scripts, no outside resources),
    every value escaped."""
    from html import escape

    rows = []
    for st in report.stages:
        items = "".join(
            f"<li>{escape(g.gate)} {'pass' if g.passed else 'FAIL'}: {escape(g.detail)}</li>"
            for g in st.gates
        ) + "".join(
            f"<li>{escape(str(f.get('rule', '')))} {escape(str(f.get('severity', '')))}: "
            f"{escape(str(f.get('message', '')))}</li>"
            for f in st.findings
        )
        rows.append(
            f'<tr class="{escape(st.status)}"><td>{escape(st.name)}</td>'
            f"<td>{escape(st.status)}</td><td>{escape(st.detail)}<ul>{items}</ul></td></tr>"
        )
    title = escape(f"imageforge ship {report.image} -> {report.environment}")
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif}}"
        "td{padding:4px 8px;vertical-align:top}.failed{background:#fdd}"
        ".passed{background:#dfd}.skipped{color:#888}</style></head><body>"
        f"<h1>{title}</h1><p>{escape(report.destination or 'not shipped')}</p>"
        "<table><tr><th>stage</th><th>status</th><th>detail</th></tr>"
        + "".join(rows)
        + "</table></body></html>\n"
    )


@app.command("ship")
@click.argument("context", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--tag", "-t", "tag", required=True, help="NAME[:TAG] in the environment.")
@click.option("--env", "env", help="The environment to ship into (default: the first).")
@click.option(
    "--file",
    "-f",
    "dockerfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The Dockerfile (default: CONTEXT/Dockerfile).",
)
@click.option(
    "--key",
    "key",
    type=_KEY,
    help="Private key (cosign.key): sign, and attest SBOM and provenance.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The policy file (default: imageforge.toml found from CONTEXT upwards).",
)
@click.option(
    "--report-html",
    "report_html",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as a self-contained HTML page.",
)
@click.option("--offline", is_flag=True, help="Scan with the database as it is (no update).")
@tls_option
@authfile_option
@format_option
@click.pass_obj
def ship_command(
    opts: GlobalOptions,
    context: Path,
    tag: str,
    env: str | None,
    dockerfile: Path | None,
    key: Path | None,
    config: Path | None,
    report_html: Path | None,
    offline: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> int:
    """Ship CONTEXT into an environment of imageforge.toml: lint, build, analyze, SBOM,
    scan, sign, attest and push, stopping at the first stage whose gate fails.

    Exit 0 shipped; a failed stage exits with its own code: lint 20, build 21, analyze
    22, sbom 23, scan 24, sign 25, attest 26, push 27 (2 bad arguments or policy).
    """
    from imageforge.policy import find_policy, load_policy

    path = config or find_policy(context)
    if path is None:
        raise InvalidArgument(
            f"no imageforge.toml in {context} or above it",
            hint="write one with [environments.dev] (see README, From dev to prod)",
        )
    policy = load_policy(path)
    signer = key_signer(key, password_source()) if key is not None else None
    with ExitStack() as stack:
        target = policy.environment(env) if env else None
        gated = [target] if target else list(policy.environments[:1])
        vulns = None
        if any(e.severity or e.min_cvss is not None for e in gated):
            vulns = _vulns(opts, stack, offline)
        s = stack.enter_context(session(opts, tls_verify=tls_verify, authfile=authfile))
        report = ship(
            s,
            policy,
            context,
            tag,
            environment=env,
            dockerfile=dockerfile,
            signer=signer,
            vulns=vulns,
        )
    if report_html is not None:
        atomic_write(report_html, ship_html(report).encode())
    if fmt is OutputFormat.JSON:
        print_json(report.to_json())
    else:
        _ship_summary(report)
    failed = report.failed
    if failed is not None:
        Console(stderr=True, highlight=False).print(
            f"error: ship stopped at {failed.name}: {failed.detail}", markup=False
        )
    return report.exit_code
