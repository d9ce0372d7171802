"""``imageforge scan``: the vulnerabilities of an image, a directory or an SBOM, a CI gate
on them, and reports for people (table), scripts (JSON) and tools (SARIF, a CycloneDX
VDR, OpenVEX)."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import click
from rich.console import Console

from imageforge.cli._app import app
from imageforge.cli._options import (
    GlobalOptions,
    authfile_option,
    platform_option,
    tls_option,
)
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._session import session
from imageforge.errors import InvalidArgument
from imageforge.oci import Platform
from imageforge.pipeline import scan
from imageforge.policy import Policy, find_policy, load_policy
from imageforge.scan import (
    FORMATS,
    SCANNERS,
    Gate,
    ScanCache,
    ScanOptions,
    open_database,
    render,
    render_table,
)
from imageforge.secrets import secret_config as secret_config_of
from imageforge.store import StoreLayout, atomic_write
from imageforge.vuln import (
    DEFAULT_DEBIAN_URL,
    DEFAULT_OSV_URL,
    STATUSES,
    IgnoreRule,
    MatchOptions,
    UpdateConfig,
    VulnDB,
    load_ignore_file,
    load_vex,
    parse_severities,
    rules_from_policy,
)

# read from the current directory when present, as trivy reads .trivyignore
DEFAULT_IGNORE_FILES = (".trivyignore", ".trivyignore.yaml", ".grype.yaml")


def _err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def _warn(message: str) -> None:
    _err().print(f"warning: {message}", markup=False)


def _policy(config: Path | None) -> Policy:
    path = config or find_policy(Path.cwd())
    return load_policy(path) if path is not None else Policy()


def _rules(
    policy: Policy, ignorefiles: tuple[Path, ...], vex: tuple[Path, ...]
) -> list[IgnoreRule]:
    files = list(ignorefiles) or [Path(n) for n in DEFAULT_IGNORE_FILES if Path(n).is_file()]
    rules: list[IgnoreRule] = []
    for path in files:
        rules.extend(load_ignore_file(path))
    rules.extend(rules_from_policy(policy.scan, policy.source))
    for path in vex:
        rules.extend(load_vex(path))
    return rules


def _statuses(ignore_status: str | None) -> frozenset[str]:
    if not ignore_status:
        return frozenset(STATUSES)
    ignored = {s.strip().lower().replace("-", "_") for s in ignore_status.split(",") if s.strip()}
    unknown = ignored - set(STATUSES)
    if unknown:
        raise InvalidArgument(
            f"unknown status {', '.join(sorted(unknown))}",
            hint=f"use a comma-separated list of {','.join(STATUSES)}",
        )
    return frozenset(STATUSES) - ignored


def _gate(
    policy: Policy,
    severity: str | None,
    min_cvss: float | None,
    ignore_unfixed: bool | None,
    exit_code: int | None,
) -> Gate:
    """The command line's gate, each part the policy's ([scan]) when not given."""
    p = policy.scan
    severities = parse_severities(severity) if severity else None
    if severities is None and p.severity is not None:
        severities = frozenset(p.severity)
    return Gate(
        severities=severities,
        min_cvss=min_cvss if min_cvss is not None else p.min_cvss,
        ignore_unfixed=ignore_unfixed if ignore_unfixed is not None else bool(p.ignore_unfixed),
        exit_code=exit_code if exit_code is not None else p.exit_code,
    )


@app.command("scan")
@click.argument("target")
@click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice([*FORMATS, "text"]),
    default="table",
    show_default=True,
    help="table (or text) for people; json (the findings contract); sarif (2.1.0) for code "
    "scanning; cyclonedx (a CycloneDX 1.6 vulnerability report); openvex (VEX out).",
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
    "--severity",
    "-s",
    metavar="LIST",
    help="Report only these severities (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL) and exit 1 when "
    "any is found (trivy's syntax).",
)
@click.option(
    "--min-cvss",
    type=click.FloatRange(0.0, 10.0),
    metavar="SCORE",
    help="Report only findings whose CVSS base score reaches SCORE (the guide's 7.0) and "
    "exit 1 when any is found; with --severity, a finding reaching either is reported.",
)
@click.option(
    "--ignore-unfixed/--no-ignore-unfixed",
    default=None,
    help="Leave out findings that have no fixed version yet.",
)
@click.option(
    "--exit-code",
    type=click.IntRange(0, 255),
    metavar="N",
    help="Exit N instead of 1 when the threshold is reached; alone, exit N when anything "
    "is found (trivy).",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Use the database as it is: no update, even when it is older than a day.",
)
@click.option(
    "--ignorefile",
    "ignorefiles",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help=".trivyignore (or its YAML form) or .grype.yaml; repeatable (default: those "
    "present in the current directory).",
)
@click.option(
    "--vex",
    "vex",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="An OpenVEX or CycloneDX VEX document: not_affected statements suppress, with "
    "their justification shown (repeatable).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="imageforge.toml or pyproject.toml whose [scan] holds suppressions and the gate "
    "(default: the nearest above the current directory).",
)
@click.option(
    "--ignore-status",
    metavar="LIST",
    help=f"Leave out findings of these statuses ({','.join(STATUSES)}).",
)
@click.option(
    "--skip-unimportant",
    is_flag=True,
    help="Leave out Debian issues of urgency 'unimportant' (reported LOW by default).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read the image again even when an earlier scan kept what it read "
    "(<root>/scan-cache, by image digest).",
)
@click.option(
    "--scanners",
    default="vuln,secret",
    show_default=True,
    metavar="LIST",
    help="What to look for, comma-separated: vuln, secret, misconfig (or config), license.",
)
@click.option(
    "--secret-config",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="A trivy-secret.yaml of secret rules and allow rules, read with [scan.secrets].",
)
@platform_option
@tls_option
@authfile_option
@progress_option
@click.pass_obj
def scan_command(
    opts: GlobalOptions,
    target: str,
    fmt: str,
    output: Path | None,
    severity: str | None,
    min_cvss: float | None,
    ignore_unfixed: bool | None,
    exit_code: int | None,
    offline: bool,
    ignorefiles: tuple[Path, ...],
    vex: tuple[Path, ...],
    config: Path | None,
    ignore_status: str | None,
    skip_unimportant: bool,
    no_cache: bool,
    scanners: str,
    secret_config: Path | None,
    platform: str | None,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
) -> int:
    """Scan TARGET for known vulnerabilities, secrets, risky image configuration and
    licences (--scanners; default vuln,secret, as trivy).

    TARGET is sbom:FILE (CycloneDX or SPDX JSON), a directory (a root filesystem), or an
    image: a name or ID in the store, oci:DIR[:TAG], oci-archive:FILE[:TAG],
    docker-archive:FILE[:NAME] or docker://REF. Each finding names the layer and the
    Dockerfile instruction that brought it in; a vulnerability, the version to upgrade
    to; a secret in a file a later layer deleted, that layer.

    Exit 0, or 1 (--exit-code) when a finding reaches --severity/--min-cvss (or the
    [scan] gate of imageforge.toml), or a licence fails [scan.license]; with no
    threshold, 0 whatever else is found.
    """
    kinds = _scanners(scanners)
    policy = _policy(config)
    options = ScanOptions(
        gate=_gate(policy, severity, min_cvss, ignore_unfixed, exit_code),
        match=MatchOptions(unimportant=not skip_unimportant, statuses=_statuses(ignore_status)),
        rules=tuple(_rules(policy, ignorefiles, vex)),
        scanners=kinds,
        secrets=secret_config_of(policy.scan.secrets, trivy_config=secret_config)
        if "secret" in kinds
        else None,
        misconfig=policy.scan.misconfig,
        license=policy.scan.license,
    )
    db: VulnDB | None = None
    status = None
    if "vuln" in kinds:
        db, status = open_database(
            opts.root, offline=offline, warn=_warn, config=database_sources()
        )
    with ExitStack() as stack:
        if db is not None:
            stack.enter_context(db)
        s = stack.enter_context(session(opts, progress, tls_verify=tls_verify, authfile=authfile))
        report = scan(
            s,
            target,
            db,
            options,
            database=status,
            platform=Platform.parse(platform) if platform else None,
            cache=None if no_cache else ScanCache(StoreLayout(opts.root).scan_cache),
        )
    for warning in report.warnings:
        _warn(warning)
    fmt = "table" if fmt == "text" else fmt
    if fmt == "table" and output is None:
        data = render_table(report, color=sys.stdout.isatty(), width=_width())
    else:
        data = render(report, fmt)
    if output is not None:
        atomic_write(output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return report.exit_code


def _scanners(text: str) -> frozenset[str]:
    """``vuln,secret`` -> the scanners; ``config`` is trivy's other name of misconfig."""
    names = {n.strip().lower() for n in text.split(",") if n.strip()}
    names = {"misconfig" if n == "config" else n for n in names}
    unknown = names - set(SCANNERS)
    if unknown or not names:
        raise InvalidArgument(
            f"unknown scanner {', '.join(sorted(unknown)) or repr(text)}",
            hint="use a comma-separated list of vuln, secret, misconfig (config), license",
        )
    return frozenset(names)


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def database_sources() -> UpdateConfig:
    """Where an update of the vulnerability database reads from: the defaults, or
    the stand-ins $IMAGEFORGE_VULNDB_OSV_URL and $IMAGEFORGE_VULNDB_DEBIAN_URL name."""
    return UpdateConfig(
        osv_url=_env("IMAGEFORGE_VULNDB_OSV_URL", DEFAULT_OSV_URL),
        debian_url=_env("IMAGEFORGE_VULNDB_DEBIAN_URL", DEFAULT_DEBIAN_URL),
    )


def _width() -> int:
    return Console().width if sys.stdout.isatty() else 250


__all__ = ["scan_command"]
