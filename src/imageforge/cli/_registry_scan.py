"""``imageforge registry project policy``, ``registry allowlist`` and ``registry scan``:
a project's scan and pull policy, the CVE allowlists, and the scans of stored images,
on the registry's data directory (the operator's view, as the other admin commands).
The server scans; ``scan start`` queues a job that the serving registry's workers run."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import click

from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._registry_admin import (
    _done,
    _duration,
    _manage,
    _show,
    _storage,
    data_dir_option,
    project_app,
)
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest
from imageforge.registry.meta import SEVERITIES
from imageforge.registry.service import OPERATOR, ScanService, parse_digest


def _service(opts: GlobalOptions, data_dir: Path | None) -> ScanService:
    # Imported here: it brings the scanners, which the other registry commands (this
    # module is loaded with them) do not need.
    from imageforge.pipeline import RegistryScanner

    manage = _manage(opts, data_dir)
    storage = _storage(opts, data_dir)
    return ScanService(manage.meta, storage, manage, RegistryScanner(storage, opts.root).version)


@project_app.command("policy")
@click.argument("name")
@click.option(
    "--scan-on-push/--no-scan-on-push", default=None, help="Scan each image pushed to it."
)
@click.option(
    "--prevent-vulnerable/--no-prevent-vulnerable",
    default=None,
    help="Refuse pulls of images with findings at or above --severity, or not scanned.",
)
@click.option("--severity", type=click.Choice(SEVERITIES, case_sensitive=False))
@click.option(
    "--require-signature/--no-require-signature",
    default=None,
    help="Refuse pulls of images not signed by one of the project's --key.",
)
@click.option(
    "--key",
    "keys",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A public key (cosign.pub) signatures are checked with; replaces the keys.",
)
@click.option(
    "--attestation",
    metavar="TYPE",
    help="Refuse pulls of images without a signed attestation of TYPE (slsaprovenance1,"
    " spdxjson, cyclonedx or a URI); '' for none.",
)
@click.option(
    "--refuse-root/--no-refuse-root", default=None, help="Refuse images that run as root."
)
@data_dir_option
@format_option
@click.pass_obj
def project_policy(
    opts: GlobalOptions,
    name: str,
    scan_on_push: bool | None,
    prevent_vulnerable: bool | None,
    severity: str | None,
    require_signature: bool | None,
    keys: tuple[Path, ...],
    attestation: str | None,
    refuse_root: bool | None,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Show a project's scan and pull policy, or change the settings given (as Harbor's
    "automatically scan images on push" and "prevent vulnerable images from running").
    While --prevent-vulnerable is on, a manifest GET or HEAD of an image (of an index:
    of each of its images) is refused (DENIED, naming the policy and the findings) if
    its latest scan found anything at or above the severity that no allowlist names,
    and if it was not scanned yet or its scan failed. --require-signature and
    --attestation check cosign signatures and attestations with the project's keys;
    --refuse-root refuses images whose config runs as root. A system admin's pull with
    the header X-Imageforge-Policy-Bypass: REASON passes, and is audited."""
    svc = _service(opts, data_dir)
    changes: dict[str, Any] = {
        k: v
        for k, v in (
            ("scan_on_push", scan_on_push),
            ("prevent_vulnerable", prevent_vulnerable),
            ("severity", severity),
            ("require_signature", require_signature),
            ("required_attestation", attestation),
            ("refuse_root", refuse_root),
        )
        if v is not None
    }
    if keys:
        changes["keys"] = [k.read_text(errors="replace") for k in keys]
    doc = svc.set_policy(OPERATOR, name, changes) if changes else svc.policy(OPERATOR, name)
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    shown = {**doc, "keys": len(doc["keys"])}
    columns = ["project", "scan_on_push", "prevent_vulnerable", "severity", "require_signature"]
    _show(fmt, [*columns, "keys", "required_attestation", "refuse_root"], [shown])


# ---------------------------------------------------------------- allowlists


@registry_app.group("allowlist")
def allowlist_app() -> None:
    """CVE allowlists: findings a vulnerability pull policy lets through, per project
    (--project) or for the whole registry, each entry until it expires."""


def _expiry(expires: str | None, expires_in: str | None) -> float | None:
    if expires is not None and expires_in is not None:
        raise InvalidArgument("--expires and --expires-in contradict each other")
    if expires_in is not None:
        return time.time() + _duration(expires_in)
    if expires is None:
        return None
    try:
        day = dt.date.fromisoformat(expires)
    except ValueError:
        raise InvalidArgument(
            f"--expires {expires!r} is not a date", hint="YYYY-MM-DD (the entry ends then, UTC)"
        ) from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _show_allowlist(fmt: OutputFormat, doc: dict[str, Any]) -> None:
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    _show(fmt, ["cve", "expires", "active"], doc["items"])


_PROJECT = click.option("--project", help="A project's allowlist (default: the registry's).")


@allowlist_app.command("list")
@_PROJECT
@data_dir_option
@format_option
@click.pass_obj
def allowlist_list(
    opts: GlobalOptions, project: str | None, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """The allowlist's entries (expired ones too, shown inactive)."""
    _show_allowlist(fmt, _service(opts, data_dir).allowlist(OPERATOR, project))


@allowlist_app.command("add")
@click.argument("cves", nargs=-1, required=True)
@_PROJECT
@click.option("--expires", metavar="DATE", help="Until this day (YYYY-MM-DD, UTC).")
@click.option("--expires-in", metavar="DURATION", help="For this long: 30d, 12h.")
@data_dir_option
@format_option
@click.pass_obj
def allowlist_add(
    opts: GlobalOptions,
    cves: tuple[str, ...],
    project: str | None,
    expires: str | None,
    expires_in: str | None,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Add CVEs (or GHSA ids) to the allowlist; an entry there already gets the new
    expiry."""
    svc = _service(opts, data_dir)
    until = _expiry(expires, expires_in)
    new = {c.upper() for c in cves}
    kept = [
        (i["cve"], i["expires_at"])
        for i in svc.allowlist(OPERATOR, project)["items"]
        if i["cve"] not in new
    ]
    doc = svc.set_allowlist(OPERATOR, project, [*kept, *((c, until) for c in cves)])
    _show_allowlist(fmt, doc)


@allowlist_app.command("rm")
@click.argument("cves", nargs=-1, required=True)
@_PROJECT
@data_dir_option
@format_option
@click.pass_obj
def allowlist_rm(
    opts: GlobalOptions,
    cves: tuple[str, ...],
    project: str | None,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Remove CVEs from the allowlist."""
    svc = _service(opts, data_dir)
    gone = {c.upper() for c in cves}
    items = svc.allowlist(OPERATOR, project)["items"]
    missing = gone - {i["cve"] for i in items}
    if missing:
        raise NotFound(f"not on the allowlist: {', '.join(sorted(missing))}")
    kept = [(i["cve"], i["expires_at"]) for i in items if i["cve"] not in gone]
    _show_allowlist(fmt, svc.set_allowlist(OPERATOR, project, kept))


# ---------------------------------------------------------------- scans


@registry_app.group("scan")
def scan_app() -> None:
    """Scans of the images the registry stores (run by the serving registry against
    the vulnerability database under its --root)."""


def _target(svc: ScanService, ref: str) -> tuple[str, Digest]:
    """REPO@DIGEST or REPO:TAG -> (repository, digest)."""
    if "@" in ref:
        repo, _, digest = ref.partition("@")
        return repo, parse_digest(digest)
    repo, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        raise InvalidArgument(f"{ref!r} is not REPOSITORY@DIGEST or REPOSITORY:TAG")
    found = svc.meta.resolve_tag(repo, tag)
    if found is None:
        raise NotFound(f"tag {repo}:{tag} is not known")
    return repo, found


@scan_app.command("show")
@click.argument("ref", metavar="REPOSITORY@DIGEST|REPOSITORY:TAG")
@data_dir_option
@format_option
@click.pass_obj
def scan_show(opts: GlobalOptions, ref: str, data_dir: Path | None, fmt: OutputFormat) -> None:
    """The latest scan of an image: its status, counts by severity and findings (the
    API's /api/v1/projects/P/repositories/R/artifacts/DIGEST/scan)."""
    svc = _service(opts, data_dir)
    repo, digest = _target(svc, ref)
    doc = svc.result(OPERATOR, repo, digest)
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    counts = (doc["summary"] or {}).get("summary", {})
    line = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no findings"
    click.echo(f"{repo}@{digest}: {doc['scan_status']}" + (f" ({line})" if doc["summary"] else ""))
    if doc.get("message"):
        click.echo(f"  {doc['message']}")
    _show(fmt, ["id", "severity", "package", "version", "fix_version"], doc["vulnerabilities"])


@scan_app.command("start")
@click.argument("ref", metavar="REPOSITORY@DIGEST|REPOSITORY:TAG")
@data_dir_option
@format_option
@click.pass_obj
def scan_start(opts: GlobalOptions, ref: str, data_dir: Path | None, fmt: OutputFormat) -> None:
    """Queue a scan of an image (each image of an index) now, against the database
    under --root; the serving registry runs it (see 'registry scan show')."""
    svc = _service(opts, data_dir)
    repo, digest = _target(svc, ref)
    doc = svc.start(OPERATOR, repo, digest)
    _done(fmt, doc, f"queued scans of {', '.join(doc['queued'])}")
