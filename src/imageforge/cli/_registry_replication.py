"""``imageforge registry replication add|list|show|run|history|delete``: replication
rules and their runs, on a registry's data directory (the operator's view, as the other
admin commands). ``run`` copies in this process; the serving registry runs cron and
on-push rules itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from imageforge.analyze import format_size, parse_size
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._registry_admin import _directory, _done, _manage, _show, _when, data_dir_option
from imageforge.cli._render import print_json
from imageforge.registry.replication import DIRECTIONS, TRIGGERS, Replication, RunRow
from imageforge.registry.service import OPERATOR
from imageforge.registry.storage import FsBlobStorage
from imageforge.registry.webhooks import Webhooks


def _replication(opts: GlobalOptions, data_dir: Path | None, copies: bool = False) -> Replication:
    manage = _manage(opts, data_dir)
    storage = FsBlobStorage(_directory(opts, data_dir))
    replicator = None
    if copies:  # the registry client and the signature carrying, only when copying
        from imageforge.pipeline import RegistryReplicator

        replicator = RegistryReplicator(manage.meta, storage)
    return Replication(
        manage.meta, manage, replicator, storage=storage, events=Webhooks(manage.meta)
    )


@registry_app.group("replication")
def replication_app() -> None:
    """Replication rules: images copied by digest, with their signatures, to another
    registry (manually, on a cron schedule or on push)."""


@replication_app.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--username", default="", help="The endpoint's user.")
@click.option("--password-env", metavar="VAR", help="Read the endpoint's password from $VAR.")
@click.option("--insecure", is_flag=True, help="Plain http or an unverified certificate.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default="push", show_default=True)
@click.option(
    "--repository", "repositories", multiple=True, help="project/name glob (repeat; default **)."
)
@click.option("--exclude-repository", "exclude_repositories", multiple=True)
@click.option("--tag", "tags", multiple=True, help="Tag glob (repeat; default **).")
@click.option("--exclude-tag", "exclude_tags", multiple=True)
@click.option("--label", "labels", multiple=True, help="KEY or KEY=VALUE the image must have.")
@click.option("--trigger", type=click.Choice(TRIGGERS), default="manual", show_default=True)
@click.option("--cron", default="", help="With --trigger cron, e.g. '0 3 * * *' (UTC).")
@click.option("--dest-namespace", default="", help="Replace the project at the destination.")
@click.option("--mirror-deletions", is_flag=True, help="Delete there what is deleted here.")
@click.option("--bandwidth", default="0", help="Bytes per second at most, e.g. 10MB (0: none).")
@click.option("--disabled", is_flag=True)
@click.option("--replace", is_flag=True, help="Replace the rule of that name.")
@data_dir_option
@format_option
@click.pass_obj
def replication_add(
    opts: GlobalOptions,
    name: str,
    url: str,
    username: str,
    password_env: str | None,
    insecure: bool,
    direction: str,
    repositories: tuple[str, ...],
    exclude_repositories: tuple[str, ...],
    tags: tuple[str, ...],
    exclude_tags: tuple[str, ...],
    labels: tuple[str, ...],
    trigger: str,
    cron: str,
    dest_namespace: str,
    mirror_deletions: bool,
    bandwidth: str,
    disabled: bool,
    replace: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Add rule NAME replicating to the registry at URL (http(s)://HOST[:PORT])."""
    password = ""
    if password_env is not None:
        password = os.environ.get(password_env, "")
        if not password:
            raise click.UsageError(f"${password_env} is not set")
    endpoint: dict[str, Any] = {"url": url, "username": username, "password": password}
    if insecure:
        endpoint["insecure"] = True
    doc: dict[str, Any] = {
        "name": name,
        "direction": direction,
        "endpoint": endpoint,
        "repositories": list(repositories) or ["**"],
        "exclude_repositories": list(exclude_repositories),
        "tags": list(tags) or ["**"],
        "exclude_tags": list(exclude_tags),
        "labels": list(labels),
        "trigger": trigger,
        "cron": cron,
        "destination_namespace": dest_namespace,
        "mirror_deletions": mirror_deletions,
        "bandwidth": parse_size(bandwidth) if bandwidth.strip() != "0" else 0,
        "enabled": not disabled,
    }
    rule = _replication(opts, data_dir).add(OPERATOR, doc, replace=replace)
    _done(fmt, rule.to_json(), f"replication rule {rule.name} -> {rule.endpoint.url} added")


def _rule_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "url": doc["endpoint"]["url"],
        "repositories": ",".join(doc["repositories"]),
        "tags": ",".join(doc["tags"]),
        "trigger": doc["trigger"] + (f" ({doc['cron']})" if doc["cron"] else ""),
    }


@replication_app.command("list")
@data_dir_option
@format_option
@click.pass_obj
def replication_list(opts: GlobalOptions, data_dir: Path | None, fmt: OutputFormat) -> None:
    """List the replication rules (never a password)."""
    rows = [r.to_json() for r in _replication(opts, data_dir).rules(OPERATOR)]
    if fmt is OutputFormat.TABLE:
        rows = [_rule_row(r) for r in rows]
    _show(fmt, ["name", "direction", "url", "repositories", "tags", "trigger", "enabled"], rows)


@replication_app.command("show")
@click.argument("name")
@data_dir_option
@format_option
@click.pass_obj
def replication_show(
    opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Show rule NAME (never its password)."""
    doc = _replication(opts, data_dir).rule(OPERATOR, name).to_json()
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    for key, value in _rule_row(doc).items():
        if key != "endpoint":
            click.echo(f"{key}: {value}")
    click.echo(f"username: {doc['endpoint']['username'] or '-'}")


def _run_rows(run: RunRow) -> list[dict[str, Any]]:
    return [
        {**i.to_json(), "bytes": format_size(i.bytes), "digest": i.digest[:19]} for i in run.items
    ]


def _summary(run: RunRow) -> str:
    doc = run.to_json(items=False)
    return (
        f"run {run.id} of {run.rule}: {run.status}, {doc['done']} done, {doc['failed']} failed"
        f" of {doc['total']}; {doc['blobs']} blobs, {format_size(doc['bytes'])} sent"
    )


_ITEM_COLUMNS = ["repository", "tag", "digest", "status", "blobs", "bytes", "attempts", "error"]


@replication_app.command("run")
@click.argument("name")
@data_dir_option
@format_option
@click.pass_obj
def replication_run(
    opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Run rule NAME now, in this process: each selected image is copied by digest with
    its signatures; blobs the destination has are not sent again, so running again after
    an interruption sends only what is missing. Exits non-zero if an item failed."""
    replication = _replication(opts, data_dir, copies=True)
    run = replication.run(OPERATOR, name)
    if fmt is OutputFormat.JSON:
        print_json(run.to_json())
    else:
        _show(fmt, _ITEM_COLUMNS, _run_rows(run))
        click.echo(_summary(run), err=True)
    if run.status != "done":
        raise SystemExit(1)


@replication_app.command("history")
@click.argument("name", required=False)
@click.option("--run", "run_id", type=int, help="One run, with its items.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@data_dir_option
@format_option
@click.pass_obj
def replication_history(
    opts: GlobalOptions,
    name: str | None,
    run_id: int | None,
    limit: int,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """The runs of rule NAME (or of all rules), newest first; --run ID: one run's items."""
    replication = _replication(opts, data_dir)
    if run_id is not None:
        run = replication.get_run(OPERATOR, run_id)
        if fmt is OutputFormat.JSON:
            print_json(run.to_json())
        else:
            _show(fmt, _ITEM_COLUMNS, _run_rows(run))
            click.echo(_summary(run), err=True)
        return
    runs = replication.history(OPERATOR, name, limit)
    rows = [r.to_json(items=fmt is OutputFormat.JSON) for r in runs]
    if fmt is OutputFormat.TABLE:
        rows = [
            {**r, "started": _when(r["started"]), "bytes": format_size(r["bytes"])} for r in rows
        ]
    _show(
        fmt,
        ["id", "rule", "trigger", "started", "status", "total", "done", "failed", "bytes"],
        rows,
    )


@replication_app.command("delete")
@click.argument("name")
@data_dir_option
@format_option
@click.pass_obj
def replication_delete(
    opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Delete rule NAME (its runs' history stays)."""
    _replication(opts, data_dir).delete(OPERATOR, name)
    _done(fmt, {"deleted": name}, f"replication rule {name} deleted")
