"""``imageforge promote`` and ``retire``: the lifecycle of the ``[environments]`` in
``imageforge.toml``. Each parses its flags, calls one ``imageforge.pipeline`` function and
renders what it did; a promotion a gate refuses exits 1 with every gate listed."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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
from imageforge.cli._scan import _env, _policy, _warn
from imageforge.cli._session import session
from imageforge.cli._sign import password_source
from imageforge.errors import InvalidArgument
from imageforge.pipeline import GateOutcome, GatesFailed, VulnGate, key_signer, promote, retire

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


def _vulns(opts: GlobalOptions, stack: ExitStack, offline: bool) -> VulnGate:
    from imageforge.scan import open_database
    from imageforge.vuln import DEFAULT_DEBIAN_URL, DEFAULT_OSV_URL, UpdateConfig

    config = UpdateConfig(
        osv_url=_env("IMAGEFORGE_VULNDB_OSV_URL", DEFAULT_OSV_URL),
        debian_url=_env("IMAGEFORGE_VULNDB_DEBIAN_URL", DEFAULT_DEBIAN_URL),
    )
    db, status = open_database(opts.root, offline=offline, warn=_warn, config=config)
    stack.enter_context(db)
    return VulnGate(db, status)


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
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> int:
    """Promote IMAGE into the environment --to: by digest, only when that environment's
    gates pass (every image of an index), copied with its signatures, attestations and
    SBOM, the promotion recorded as a signed attestation (--key).

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
            vulns = _vulns(opts, stack, offline)
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
@click.option("--dry-run", is_flag=True, help="Say what would be archived and deleted.")
@tls_option
@authfile_option
@format_option
@click.pass_obj
def retire_command(
    opts: GlobalOptions,
    image: str,
    archive: str | None,
    dry_run: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Retire IMAGE (docker://REF, or a name in the store): archive it whole with its
    referrers (--archive oci-archive:FILE; `imageforge import` restores it with the same
    digest), then delete it at the registry (its tags go with it) or remove its store
    names and prune what no other image uses.
    """
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
    verb = "would " if dry_run else ""
    lines: list[Any] = []
    if done.archive:
        lines.append(f"{verb}archive {done.image} ({done.digest}) to {done.archive}")
    lines += [f"{verb}delete {d}" for d in done.deleted]
    if done.archive and not dry_run:
        lines.append(f"restore with: imageforge import {done.archive} -t NAME[:TAG]")
    if not dry_run and done.freed:
        lines.append(f"freed {done.freed} bytes")
    for line in lines:
        click.echo(line)
