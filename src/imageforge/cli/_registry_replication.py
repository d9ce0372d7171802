"""``imageforge registry replication add|list|show|run|history|delete`` and
``registry replication endpoint add|list|remove``: replication rules, their runs and
the named endpoints they copy to, on a registry's data directory (the operator's view,
as the other admin commands). ``run`` copies in this process; the serving registry runs
cron and on-push rules itself. Passwords are sealed with the registry's secret key
(``--secret-key-file``, default ``secret.key`` in the data directory)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from imageforge.analyze import format_size, parse_size
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._registry_admin import (
    _done,
    _duration,
    _manage,
    _secret_box,
    _show,
    _storage,
    _when,
    key_option,
)
from imageforge.cli._render import print_json
from imageforge.registry.replication import DIRECTIONS, TRIGGERS, Replication, RunRow
from imageforge.registry.service import OPERATOR, Manifests, Uploads
from imageforge.registry.webhooks import Webhooks

F = TypeVar("F", bound=Callable[..., Any])


def _replication(opts: GlobalOptions, data_dir: Path | None, copies: bool = False) -> Replication:
    manage = _manage(opts, data_dir)
    storage = _storage(opts, data_dir)
    box = _secret_box(opts, data_dir)
    replicator = None
    manifests = None
    if copies:  # the registry client and the signature carrying, only when copying
        from imageforge.pipeline import RegistryReplicator, RegistryScanner
        from imageforge.registry.scanning import ScanWorkers

        replicator = RegistryReplicator(manage.meta, storage)
        # what a pull rule fetches is stored as a push is: the push gates, and a scan
        # queued for projects that scan on push (run by the serving registry)
        manifests = Manifests(manage.meta, storage, manage.gates)
        scans = ScanWorkers(manage.meta, RegistryScanner(storage, opts.root))
        manifests.pushed.append(scans.pushed)
    return Replication(
        manage.meta,
        manage,
        replicator,
        storage=storage,
        events=Webhooks(manage.meta),
        secrets=box,
        manifests=manifests,
        uploads=Uploads(manage.meta, storage, 7 * 86400),
    )


@registry_app.group("replication")
def replication_app() -> None:
    """Replication rules: images copied by digest, with their signatures, to another
    registry (manually, on a cron schedule or on push) or, --direction pull, from
    another registry into this one (manually or on a cron schedule)."""


@replication_app.command("add")
@click.argument("name")
@click.argument("url", required=False)
@click.option(
    "--endpoint",
    "endpoint_name",
    metavar="NAME",
    help="Copy to the named endpoint (registry replication endpoint add) instead of URL.",
)
@click.option("--username", default="", help="The endpoint's user.")
@click.option("--password-env", metavar="VAR", help="Read the endpoint's password from $VAR.")
@click.option("--insecure", is_flag=True, help="Plain http or an unverified certificate.")
@click.option(
    "--direction",
    type=click.Choice(DIRECTIONS),
    default="push",
    show_default=True,
    help="push: copy images of this registry to URL; pull: fetch URL's images into this"
    " registry (its catalog, or the --repository names taken literally without one).",
)
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
@key_option
@format_option
@click.pass_obj
def replication_add(
    opts: GlobalOptions,
    name: str,
    url: str | None,
    endpoint_name: str | None,
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
    """Add rule NAME replicating to (or, --direction pull, from) the registry at URL
    (http(s)://HOST[:PORT]) or the endpoint --endpoint NAME."""
    if (url is None) == (endpoint_name is None):
        raise click.UsageError("give the registry's URL or --endpoint NAME (one of them)")
    endpoint: str | dict[str, Any]
    if endpoint_name is not None:
        if username or password_env or insecure:
            raise click.UsageError(
                "--username, --password-env and --insecure belong to the"
                " endpoint (registry replication endpoint add --replace)"
            )
        endpoint = endpoint_name
    else:
        password = ""
        if password_env is not None:
            password = os.environ.get(password_env, "")
            if not password:
                raise click.UsageError(f"${password_env} is not set")
        endpoint = {"url": url, "username": username, "password": password}
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
    _done(fmt, rule.to_json(), f"replication rule {rule.summary} added")


def _rule_row(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        **doc,
        "url": doc["endpoint"]["url"],
        "repositories": ",".join(doc["repositories"]),
        "tags": ",".join(doc["tags"]),
        "trigger": doc["trigger"] + (f" ({doc['cron']})" if doc["cron"] else ""),
    }


@replication_app.command("list")
@key_option
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
@key_option
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
        f" of {doc['total']}; {doc['blobs']} blobs, {format_size(doc['bytes'])} transferred"
    )


_ITEM_COLUMNS = ["repository", "tag", "digest", "status", "blobs", "bytes", "attempts", "error"]


@replication_app.command("run")
@click.argument("name")
@click.option(
    "--lease",
    default="1m",
    show_default=True,
    help="How long the run stays this process's without renewal: if the process dies,"
    " the rule's next run (or a serving registry) continues it after that.",
)
@key_option
@format_option
@click.pass_obj
def replication_run(
    opts: GlobalOptions, name: str, lease: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Run rule NAME now, in this process: each selected image is copied by digest with
    its signatures (pulling: fetched into this registry, stored as a push is); blobs the
    destination has are not sent again. The items an
    interrupted run of NAME left (its process died) join this run. Exits non-zero if an
    item failed."""
    replication = _replication(opts, data_dir, copies=True)
    replication.lease_ttl = _duration(lease, "--lease")
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
@key_option
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
@key_option
@format_option
@click.pass_obj
def replication_delete(
    opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Delete rule NAME (its runs' history stays)."""
    _replication(opts, data_dir).delete(OPERATOR, name)
    _done(fmt, {"deleted": name}, f"replication rule {name} deleted")


@replication_app.group("endpoint")
def endpoint_app() -> None:
    """Named endpoints (Harbor's "registries"): a remote registry's URL and credentials,
    shared by the rules that name it (--endpoint NAME)."""


@endpoint_app.command("add")
@click.argument("name")
@click.option("--url", required=True, help="http(s)://HOST[:PORT]")
@click.option("--username", default="", help="The endpoint's user.")
@click.option("--password-stdin", is_flag=True, help="Read the endpoint's password from stdin.")
@click.option("--insecure", is_flag=True, help="Plain http or an unverified certificate.")
@click.option("--replace", is_flag=True, help="Replace the endpoint of that name.")
@key_option
@format_option
@click.pass_obj
def endpoint_add(
    opts: GlobalOptions,
    name: str,
    url: str,
    username: str,
    password_stdin: bool,
    insecure: bool,
    replace: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Add endpoint NAME: the registry at --url, with its credentials (the password
    sealed with the secret key, never shown)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else ""
    if password_stdin and not password:
        raise click.UsageError("--password-stdin read an empty password")
    doc: dict[str, Any] = {"url": url, "username": username, "password": password}
    if insecure:
        doc["insecure"] = True
    endpoint = _replication(opts, data_dir).add_endpoint(OPERATOR, name, doc, replace=replace)
    _done(fmt, endpoint.to_json(), f"replication endpoint {name} -> {endpoint.url} added")


@endpoint_app.command("list")
@key_option
@format_option
@click.pass_obj
def endpoint_list(opts: GlobalOptions, data_dir: Path | None, fmt: OutputFormat) -> None:
    """List the named endpoints (never a password)."""
    rows = [e.to_json() for e in _replication(opts, data_dir).endpoints(OPERATOR)]
    _show(fmt, ["name", "url", "username", "insecure", "has_password"], rows)


@endpoint_app.command("remove")
@click.argument("name")
@key_option
@format_option
@click.pass_obj
def endpoint_remove(
    opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Remove endpoint NAME (refused while a rule uses it)."""
    _replication(opts, data_dir).delete_endpoint(OPERATOR, name)
    _done(fmt, {"deleted": name}, f"replication endpoint {name} removed")
