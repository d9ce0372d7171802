"""``imageforge registry webhook add|list|rm|deliveries``: a project's webhooks and
their delivery logs, on a registry's data directory (the operator's view, as the other
admin commands). The serving registry delivers what its events queue."""

from __future__ import annotations

import os
from pathlib import Path

import click

from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._registry_admin import (
    _done,
    _manage,
    _secret_box,
    _show,
    _when,
    key_option,
)
from imageforge.cli._render import print_json
from imageforge.registry.events import EVENT_TYPES
from imageforge.registry.service import OPERATOR, Management
from imageforge.registry.webhooks import Webhooks


def _hooks(opts: GlobalOptions, data_dir: Path | None) -> tuple[Management, Webhooks]:
    manage = _manage(opts, data_dir)
    return manage, Webhooks(manage.meta, secrets=_secret_box(opts, data_dir))


@registry_app.group("webhook")
def webhook_app() -> None:
    """Webhooks: a project's events posted as JSON (Harbor's shape), signed with HMAC."""


@webhook_app.command("add")
@click.argument("project")
@click.argument("name")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    required=True,
    type=click.Choice(list(EVENT_TYPES)),
    help="An event to send (repeat).",
)
@click.option("--secret-env", metavar="VAR", help="Read the HMAC secret from $VAR (default: made).")
@key_option
@format_option
@click.pass_obj
def webhook_add(
    opts: GlobalOptions,
    project: str,
    name: str,
    url: str,
    events: tuple[str, ...],
    secret_env: str | None,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Send PROJECT's events to URL (http or https). Each request carries
    X-Imageforge-Signature: sha256=<HMAC-SHA256 of the body with the secret>; the
    secret is printed once."""
    secret = None
    if secret_env is not None:
        secret = os.environ.get(secret_env)
        if not secret:
            raise click.UsageError(f"${secret_env} is not set")
    manage, hooks = _hooks(opts, data_dir)
    row, secret = hooks.add(manage, OPERATOR, project, name, url, list(events), secret)
    if fmt is OutputFormat.JSON:
        print_json({**row.to_json(), "secret": secret})
    else:
        click.echo(f"{row.name}\t{secret}")
        click.echo("the secret is shown only now", err=True)


@webhook_app.command("list")
@click.argument("project")
@key_option
@format_option
@click.pass_obj
def webhook_list(
    opts: GlobalOptions, project: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """List PROJECT's webhooks."""
    manage, hooks = _hooks(opts, data_dir)
    rows = [
        {**h.to_json(), "events": ",".join(sorted(h.events))}
        if fmt is OutputFormat.TABLE
        else h.to_json()
        for h in hooks.hooks_of(manage, OPERATOR, project)
    ]
    _show(fmt, ["id", "name", "url", "events", "enabled"], rows)


@webhook_app.command("rm")
@click.argument("project")
@click.argument("webhook")
@key_option
@format_option
@click.pass_obj
def webhook_rm(
    opts: GlobalOptions, project: str, webhook: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Delete PROJECT's WEBHOOK (name or id); its pending deliveries fail."""
    manage, hooks = _hooks(opts, data_dir)
    row = hooks.delete(manage, OPERATOR, project, webhook)
    _done(fmt, {"deleted": row.name, "project": project}, f"webhook {row.name} deleted")


@webhook_app.command("deliveries")
@click.argument("project")
@click.argument("webhook")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@key_option
@format_option
@click.pass_obj
def webhook_deliveries(
    opts: GlobalOptions,
    project: str,
    webhook: str,
    limit: int,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """The delivery log of PROJECT's WEBHOOK, newest first: each event's state, attempts
    and the last answer's status code (or error)."""
    manage, hooks = _hooks(opts, data_dir)
    rows = [d.to_json() for d in hooks.deliveries(manage, OPERATOR, project, webhook, limit)]
    if fmt is OutputFormat.TABLE:
        rows = [{**d, "created": _when(d["created"]), "status": d["status"] or "-"} for d in rows]
    _show(fmt, ["id", "created", "event", "state", "attempts", "status", "error"], rows)
