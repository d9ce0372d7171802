"""``imageforge registry retention set|show|run|runs`` and ``registry schedule``: a
project's retention policy, its runs (``--dry-run`` lists exactly what a real run
deletes) and the schedule the server runs retention and garbage collection on, on a
registry's data directory (the operator's view, as the other admin commands)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from imageforge.analyze import format_size
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._registry_admin import (
    _done,
    _manage,
    _show,
    _storage,
    _when,
    data_dir_option,
)
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument
from imageforge.registry.retention import GC_SCHEDULE, Retention, check_cron, next_time
from imageforge.registry.service import OPERATOR
from imageforge.registry.webhooks import Webhooks


def _retention(opts: GlobalOptions, data_dir: Path | None) -> Retention:
    manage = _manage(opts, data_dir)
    storage = _storage(opts, data_dir)
    # what a run deletes goes to the project's webhooks: the serving registry delivers it
    events = Webhooks(manage.meta)
    return Retention(manage.meta, manage, manage.gates, storage, events=events)


@registry_app.group("retention")
def retention_app() -> None:
    """Retention policies (Harbor's): which artifacts of a project to keep; the rest go."""


@retention_app.command("set")
@click.argument("project")
@click.argument("policy", type=click.File("r"))
@data_dir_option
@format_option
@click.pass_obj
def retention_set(
    opts: GlobalOptions, project: str, policy: Any, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Set PROJECT's retention policy from POLICY, a JSON file ('-': stdin):

    \b
    {"rules": [{"keep": "latest_pushed", "count": 3,
                "repositories": ["**"], "exclude_repositories": [],
                "tags": ["v*"], "exclude_tags": [], "untagged": false}],
     "schedule": "0 3 * * *", "gc_grace": 3600}

    keep is latest_pushed or latest_pulled (with count), pushed_within or pulled_within
    (with days) or always. An artifact any rule keeps stays; the others go when it runs.
    """
    try:
        doc = json.load(policy)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{policy.name} is not JSON: {exc}") from None
    out = _retention(opts, data_dir).set_policy(OPERATOR, project, doc)
    _done(fmt, out, f"{project}: {len(out['rules'])} retention rules")


@retention_app.command("show")
@click.argument("project")
@data_dir_option
@format_option
@click.pass_obj
def retention_show(
    opts: GlobalOptions, project: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Show PROJECT's retention policy."""
    doc = _retention(opts, data_dir).policy(OPERATOR, project)
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    click.echo(f"schedule: {doc['schedule'] or 'none'}; gc grace after a run: {doc['gc_grace']:g}s")
    rows = [
        {
            "keep": r["keep"]
            + (f" {r['count']}" if "count" in r else "")
            + (f" {r['days']:g}d" if "days" in r else ""),
            "repositories": ",".join(r["repositories"])
            + "".join(f" !{p}" for p in r["exclude_repositories"]),
            "tags": ",".join(r["tags"]) + "".join(f" !{p}" for p in r["exclude_tags"]),
            "untagged": r["untagged"],
        }
        for r in doc["rules"]
    ]
    _show(fmt, ["keep", "repositories", "tags", "untagged"], rows)


def _artifact(a: dict[str, Any]) -> str:
    tags = ",".join(a["tags"]) or "untagged"
    return f"{a['repository']}@{a['digest']} ({tags}, {format_size(a['size'])})"


@retention_app.command("run")
@click.argument("project")
@click.option("--dry-run", is_flag=True, help="List what a real run deletes; delete nothing.")
@data_dir_option
@format_option
@click.pass_obj
def retention_run(
    opts: GlobalOptions, project: str, dry_run: bool, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Apply PROJECT's retention policy now: delete the artifacts no rule keeps (never
    one an immutable tag holds), then collect garbage so their bytes are freed."""
    row = _retention(opts, data_dir).run(OPERATOR, project, dry_run=dry_run)
    doc = row.to_json()
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    verb = "would delete" if dry_run else "deleted"
    for a in doc["deleted"]:
        click.echo(f"{verb} {_artifact(a)}")
    for a in doc["kept"]:
        click.echo(f"kept {_artifact(a)}: {a['reason']}")
    line = f"run {row.id}: {verb} {len(doc['deleted'])} artifacts, retained {doc['retained']}"
    if doc["kept"]:
        line += f", kept {len(doc['kept'])} that immutable tags (or other gates) protect"
    gc = doc.get("gc")
    if gc and "freed_bytes" in gc:
        line += f"; gc removed {gc['blobs']} blobs, {format_size(gc['freed_bytes'])}"
    elif gc:
        line += f"; gc did not run: {gc['error']}"
    click.echo(line, err=True)


@retention_app.command("runs")
@click.argument("project")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@data_dir_option
@format_option
@click.pass_obj
def retention_runs(
    opts: GlobalOptions, project: str, limit: int, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """PROJECT's retention runs, newest first."""
    rows = [r.to_json() for r in _retention(opts, data_dir).runs(OPERATOR, project, limit)]
    if fmt is OutputFormat.TABLE:
        rows = [
            {
                **r,
                "started": _when(r["started"]),
                "deleted": len(r.get("deleted", [])),
                "kept": len(r.get("kept", [])),
                "freed": format_size((r.get("gc") or {}).get("freed_bytes", 0)),
            }
            for r in rows
        ]
    _show(fmt, ["id", "started", "trigger", "dry_run", "status", "deleted", "kept", "freed"], rows)


@registry_app.command("schedule")
@click.option("--gc", "gc_cron", metavar="CRON", help="Collect garbage on this schedule.")
@click.option("--no-gc", is_flag=True, help="Stop collecting garbage on a schedule.")
@data_dir_option
@format_option
@click.pass_obj
def schedule_cmd(
    opts: GlobalOptions,
    gc_cron: str | None,
    no_gc: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Show what the server runs on a schedule (retention of the projects whose policy
    has one, garbage collection); set the garbage collection's with --gc '0 3 * * *'.
    One server at a time runs them (a lease in the metadata database)."""
    if gc_cron is not None and no_gc:
        raise InvalidArgument("--gc and --no-gc contradict each other")
    store = _retention(opts, data_dir).store
    if gc_cron is not None:
        store.set_schedule(
            GC_SCHEDULE, check_cron(gc_cron, "--gc"), next_time(gc_cron, time.time())
        )
    elif no_gc:
        store.set_schedule(GC_SCHEDULE, None)
    rows = [
        {"name": n, "cron": c, "next_run": _when(t) if fmt is OutputFormat.TABLE else t}
        for n, c, t in store.schedules()
    ]
    if fmt is OutputFormat.TABLE and not rows:
        click.echo("nothing is scheduled", err=True)
        return
    _show(fmt, ["name", "cron", "next_run"], rows)
