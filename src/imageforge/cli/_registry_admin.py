"""``imageforge registry user|project|member|robot|audit``: manage a registry's users,
projects, roles, robot accounts and read its audit log, on its data directory (the
operator's view: whoever may write the data directory is its system admin; remote callers
use the ``/api/v1/`` API, which checks roles). Both go through the registry's management
service, so they keep the same rules. Works while the registry is serving."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table
from rich.text import Text

from imageforge.analyze import format_size, parse_size
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._registry import registry_app
from imageforge.cli._render import print_json, stdout_console
from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Digest, parse_duration
from imageforge.registry import collect_garbage
from imageforge.registry._secrets import SECRET_KEY_ENV, SecretBox, secret_box
from imageforge.registry.auth import ROBOT_ACTIONS, ROLES, Authorizer
from imageforge.registry.meta import MetaStore, RobotRow
from imageforge.registry.proxy import add_project, upstream_spec
from imageforge.registry.service import (
    OPERATOR,
    Management,
    blobs_named_by,
    check_user_name,
    registry_gates,
    stored_size,
)
from imageforge.registry.storage import RegistryStorage, open_storage
from imageforge.store import StoreLayout

F = TypeVar("F", bound=Callable[..., Any])


def _remember_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta["imageforge.registry_db"] = value


def _remember_storage(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta["imageforge.registry_storage"] = value


def data_dir_option(func: F) -> F:
    func = click.option(
        "--storage",
        metavar="URL",
        envvar="IMAGEFORGE_REGISTRY_STORAGE",
        expose_value=False,
        callback=_remember_storage,
        help="The registry's blob storage, s3://BUCKET/PREFIX?endpoint=URL (default: the"
        " data directory; also $IMAGEFORGE_REGISTRY_STORAGE).",
    )(func)
    func = click.option(
        "--db",
        metavar="URL",
        envvar="IMAGEFORGE_REGISTRY_DB",
        expose_value=False,
        callback=_remember_db,
        help="The registry's metadata database, postgresql://... (default: SQLite in the"
        " data directory; also $IMAGEFORGE_REGISTRY_DB).",
    )(func)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The registry's data directory (default: <root>/registry).",
    )(func)


def _meta(opts: GlobalOptions, data_dir: Path | None) -> MetaStore:
    db: str | None = click.get_current_context().meta.get("imageforge.registry_db")
    if db:
        return MetaStore(db)
    directory = _directory(opts, data_dir)
    if not (directory / "meta.db").is_file():
        raise NotFound(
            f"{directory} is not a registry data directory",
            hint="start it once with 'imageforge registry serve --data-dir DIR'",
        )
    return MetaStore(directory / "meta.db")


_KEY = "imageforge.secret_key_file"


def _remember_key(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    ctx.meta[_KEY] = value


def key_option(func: F) -> F:
    """``--secret-key-file`` (with ``data_dir_option``): the key sealing stored passwords
    and webhook secrets."""
    return click.option(
        "--secret-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=SECRET_KEY_ENV,
        expose_value=False,
        callback=_remember_key,
        help="The registry's secret key sealing stored passwords and webhook secrets"
        f" (default: secret.key in the data directory; also ${SECRET_KEY_ENV}).",
    )(data_dir_option(func))


def _secret_box(opts: GlobalOptions, data_dir: Path | None) -> SecretBox:
    """The registry's secret key: --secret-key-file, or the data directory's."""
    given: Path | None = click.get_current_context().meta.get(_KEY)
    return secret_box(_directory(opts, data_dir), given, lambda msg: click.echo(msg, err=True))


def _directory(opts: GlobalOptions, data_dir: Path | None) -> Path:
    return data_dir or StoreLayout(opts.root).registry


def _storage(opts: GlobalOptions, data_dir: Path | None) -> RegistryStorage:
    """The registry's blob storage: --storage (an S3 bucket) or the data directory's."""
    url: str | None = click.get_current_context().meta.get("imageforge.registry_storage")
    return open_storage(_directory(opts, data_dir), url)


def _manage(opts: GlobalOptions, data_dir: Path | None) -> Management:
    """The registry's management service, acting for the operator (``OPERATOR``)."""
    meta = _meta(opts, data_dir)
    storage = _storage(opts, data_dir)

    def blobs_of(digest: Digest) -> list[str]:
        return blobs_named_by(storage, digest)

    return Management(meta, Authorizer(meta), registry_gates(blobs_of), stored_size(storage))


# Control characters (ANSI escapes among them) and the invisible ones that reorder or
# hide text: shown as escapes, never sent to the terminal.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _safe(value: object) -> Text:
    """A table cell showing ``value`` as it is: markup in it is text (a user name of
    ``[/x]`` is printed, not parsed), control characters appear escaped (``\x1b``)."""
    text = "" if value is None else str(value)
    return Text(_UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode(), text))


def _show(fmt: OutputFormat, columns: Sequence[str], rows: list[dict[str, Any]]) -> None:
    if fmt is OutputFormat.JSON:
        print_json(rows)
        return
    table = Table(*[c.upper() for c in columns], box=None, pad_edge=False)
    for row in rows:
        table.add_row(*[_safe(row.get(c)) for c in columns])
    stdout_console().print(table)


def _done(fmt: OutputFormat, doc: dict[str, Any], line: str) -> None:
    """What a change did: ``doc`` as JSON on stdout, else ``line`` on stderr."""
    if fmt is OutputFormat.JSON:
        print_json(doc)
    else:
        click.echo(line, err=True)


def _when(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _duration(text: str, option: str = "--expires-in", zero: bool = False) -> float:
    if zero and text.strip() == "0":
        return 0.0
    try:
        return parse_duration(text, option)
    except InvalidArgument:
        raise InvalidArgument(
            f"{option} {text!r} is not a duration", hint="e.g. 90d, 12h, 3600"
        ) from None


# ---------------------------------------------------------------- users


@registry_app.group("user")
def user_app() -> None:
    """Registry users."""


@user_app.command("list")
@data_dir_option
@format_option
@click.pass_obj
def user_list(opts: GlobalOptions, data_dir: Path | None, fmt: OutputFormat) -> None:
    """List users."""
    _show(fmt, ["name", "admin"], _manage(opts, data_dir).users(OPERATOR))


@user_app.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="A system admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@data_dir_option
@format_option
@click.pass_obj
def user_add(
    opts: GlobalOptions,
    name: str,
    admin: bool,
    password_stdin: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Create a user (or set an existing user's password)."""
    check_user_name(name)  # before asking for the password
    manage = _manage(opts, data_dir)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    manage.add_user(OPERATOR, name, password, admin, replace=True)
    _done(fmt, {"user": name, "admin": admin}, f"user {name} saved")


@user_app.command("rm")
@click.argument("name")
@data_dir_option
@format_option
@click.pass_obj
def user_rm(opts: GlobalOptions, name: str, data_dir: Path | None, fmt: OutputFormat) -> None:
    """Delete a user and their memberships (never admin, the first one)."""
    _manage(opts, data_dir).delete_user(OPERATOR, name)
    _done(fmt, {"deleted": name}, f"user {name} deleted")


# ---------------------------------------------------------------- projects


@registry_app.group("project")
def project_app() -> None:
    """Projects: the first component of repository names."""


@project_app.command("list")
@data_dir_option
@format_option
@click.pass_obj
def project_list(opts: GlobalOptions, data_dir: Path | None, fmt: OutputFormat) -> None:
    """List projects with their immutable tag rules."""
    rows = _manage(opts, data_dir).projects(OPERATOR)
    if fmt is OutputFormat.TABLE:
        rows = [{**r, "immutable_tags": " ".join(r["immutable_tags"])} for r in rows]
    _show(fmt, ["name", "public", "immutable_tags"], rows)


@project_app.command("add")
@click.argument("name")
@click.option("--public", is_flag=True, help="Anyone may pull.")
@click.option("--immutable", "patterns", multiple=True, help="Tag glob that cannot be overwritten.")
@click.option(
    "--proxy-for",
    metavar="URL",
    help="A proxy cache of this registry (http(s)://HOST[:PORT]): NAME/library/x pulls"
    " library/x from it; pushes are refused.",
)
@click.option("--username", help="The upstream's user (with --proxy-for).")
@click.option("--password-stdin", is_flag=True, help="Read the upstream's password from stdin.")
@key_option
@format_option
@click.pass_obj
def project_add(
    opts: GlobalOptions,
    name: str,
    public: bool,
    patterns: tuple[str, ...],
    proxy_for: str | None,
    username: str | None,
    password_stdin: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Create a project; with --proxy-for, a pull-through proxy cache of another
    registry (its password is stored, sealed with the secret key, for the server to log
    in with; never shown)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    upstream = upstream_spec(proxy_for, username, password)
    created = add_project(
        _manage(opts, data_dir),
        OPERATOR,
        name,
        public,
        list(patterns),
        upstream,
        _secret_box(opts, data_dir),
    )
    doc = {"project": name, "public": public, "immutable_tags": created["immutable_tags"]}
    line = f"project {name} created ({'public' if public else 'private'})"
    if upstream is not None:
        doc["proxy_for"] = upstream.url
        line += f", a proxy cache of {upstream.url}"
    _done(fmt, doc, line)


@project_app.command("immutable")
@click.argument("name")
@click.argument("patterns", nargs=-1)
@data_dir_option
@format_option
@click.pass_obj
def project_immutable(
    opts: GlobalOptions,
    name: str,
    patterns: tuple[str, ...],
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Set a project's immutable tag globs (none given: clear them)."""
    _manage(opts, data_dir).set_immutable(OPERATOR, name, list(patterns))
    shown = " ".join(patterns) or "none"
    _done(fmt, {"project": name, "immutable_tags": list(patterns)}, f"{name}: immutable {shown}")


@project_app.command("quota")
@click.argument("name")
@click.option("--limit", metavar="SIZE", help="Set the bytes it may store: 10GB, 500MiB, 2000000.")
@click.option(
    "--warn",
    "warn_percent",
    type=click.IntRange(1, 100),
    default=80,
    show_default=True,
    help="With --limit: the share of the quota past which its state is 'warning'.",
)
@click.option("--remove", is_flag=True, help="Remove its quota.")
@data_dir_option
@format_option
@click.pass_obj
def project_quota(
    opts: GlobalOptions,
    name: str,
    limit: str | None,
    warn_percent: int,
    remove: bool,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Show a project's storage quota and what it uses; set it with --limit or remove it
    with --remove. Each blob and manifest counts once per project however many of its
    repositories link it (as Harbor counts); a push that would pass the quota is refused
    (DENIED) and leaves nothing linked."""
    if limit is not None and remove:
        raise InvalidArgument("--limit and --remove contradict each other")
    manage = _manage(opts, data_dir)
    if remove:
        doc = manage.set_quota(OPERATOR, name, None)
    elif limit is not None:
        doc = manage.set_quota(OPERATOR, name, parse_size(limit, what="--limit"), warn_percent)
    else:
        doc = manage.quota(OPERATOR, name)
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    shown = {
        **doc,
        "limit": "none" if doc["limit"] is None else format_size(doc["limit"]),
        "used": format_size(doc["used"]),
        "warn": "" if doc["warn_percent"] is None else f"{doc['warn_percent']}%",
    }
    _show(fmt, ["project", "limit", "used", "blobs", "warn", "state"], [shown])


@project_app.command("rm")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Also delete its repositories (tags, manifests; gc frees the blobs).",
)
@data_dir_option
@format_option
@click.pass_obj
def project_rm(
    opts: GlobalOptions, name: str, force: bool, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Delete a project with its members, robots and immutable rules. A project that
    holds repositories is refused unless --force, which deletes them too (never an
    immutable tag: clear the project's immutable rules first). Never library."""
    deleted = _manage(opts, data_dir).delete_project(OPERATOR, name, force)
    line = f"deleted project {name}"
    if deleted:
        line += f" and its {len(deleted)} repositories; 'registry gc' frees their blobs"
    _done(fmt, {"deleted": name, "repositories": list(deleted)}, line)


# ---------------------------------------------------------------- members


@registry_app.group("member")
def member_app() -> None:
    """Project members and their roles (guest, developer, maintainer, admin)."""


@member_app.command("list")
@click.argument("project")
@data_dir_option
@format_option
@click.pass_obj
def member_list(
    opts: GlobalOptions, project: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """List a project's members."""
    members = _manage(opts, data_dir).members(OPERATOR, project)
    _show(fmt, ["user", "role"], [{"user": u, "role": r} for u, r in members])


@member_app.command("set")
@click.argument("project")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@data_dir_option
@format_option
@click.pass_obj
def member_set(
    opts: GlobalOptions,
    project: str,
    user: str,
    role: str,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Give USER the ROLE in PROJECT."""
    _manage(opts, data_dir).set_member(OPERATOR, project, user, role)
    _done(fmt, {"project": project, "user": user, "role": role}, f"{user} is {role} of {project}")


@member_app.command("rm")
@click.argument("project")
@click.argument("user")
@data_dir_option
@format_option
@click.pass_obj
def member_rm(
    opts: GlobalOptions, project: str, user: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Remove USER from PROJECT."""
    _manage(opts, data_dir).remove_member(OPERATOR, project, user)
    _done(fmt, {"project": project, "removed": user}, f"{user} removed from {project}")


# ---------------------------------------------------------------- robots


@registry_app.group("robot")
def robot_app() -> None:
    """Robot accounts: one project, some actions, an expiry."""


def _robot_row(r: RobotRow) -> dict[str, Any]:
    return {
        "name": r.name,
        "project": r.project,
        "actions": ",".join(sorted(r.actions)),
        "expires": _when(r.expires) or "never",
        "expired": r.expired(),
    }


@robot_app.command("list")
@click.argument("project", required=False)
@data_dir_option
@format_option
@click.pass_obj
def robot_list(
    opts: GlobalOptions, project: str | None, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """List robot accounts (of PROJECT, or all)."""
    rows = [_robot_row(r) for r in _manage(opts, data_dir).robots(OPERATOR, project)]
    _show(fmt, ["name", "project", "actions", "expires", "expired"], rows)


@robot_app.command("add")
@click.argument("project")
@click.argument("name")
@click.option(
    "--action",
    "actions",
    multiple=True,
    required=True,
    type=click.Choice(sorted(ROBOT_ACTIONS)),
    help="What it may do (repeat).",
)
@click.option("--expires-in", default="90d", show_default=True, help="e.g. 90d, 12h, or 'never'.")
@data_dir_option
@format_option
@click.pass_obj
def robot_add(
    opts: GlobalOptions,
    project: str,
    name: str,
    actions: tuple[str, ...],
    expires_in: str,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Create robot$PROJECT+NAME; its secret is printed once."""
    lifetime = None if expires_in == "never" else _duration(expires_in)
    manage = _manage(opts, data_dir)
    row, secret = manage.add_robot(OPERATOR, project, name, frozenset(actions), lifetime)
    if fmt is OutputFormat.JSON:
        print_json({**_robot_row(row), "secret": secret})
    else:
        click.echo(f"{row.name}\t{secret}")
        click.echo("the secret is shown only now", err=True)


@robot_app.command("rm")
@click.argument("project")
@click.argument("name")
@data_dir_option
@format_option
@click.pass_obj
def robot_rm(
    opts: GlobalOptions, project: str, name: str, data_dir: Path | None, fmt: OutputFormat
) -> None:
    """Delete robot$PROJECT+NAME; its secret and tokens stop working at once."""
    full = _manage(opts, data_dir).delete_robot(OPERATOR, project, name)
    _done(fmt, {"deleted": full}, f"robot {full} deleted")


# ---------------------------------------------------------------- audit


@registry_app.command("audit")
@click.option("--user")
@click.option("--repo")
@click.option("--action", help="pull, push, delete, login, manage, ...")
@click.option("--result", type=click.Choice(["ok", "refused"]))
@click.option("--limit", type=click.IntRange(1, 100000), default=100, show_default=True)
@data_dir_option
@format_option
@click.pass_obj
def audit_cmd(
    opts: GlobalOptions,
    user: str | None,
    repo: str | None,
    action: str | None,
    result: str | None,
    limit: int,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """The audit log, newest first: who did what, when, from where."""
    rows = _manage(opts, data_dir).audit(
        OPERATOR, user=user, repo=repo, action=action, result=result, limit=limit
    )
    out = [r.__dict__ for r in rows]
    if fmt is OutputFormat.TABLE:
        out = [{**r, "time": _when(r["time"]), "user": r["user"] or "-"} for r in out]
    _show(fmt, ["time", "user", "action", "repo", "ref", "result", "remote", "detail"], out)


# ---------------------------------------------------------------- gc


@registry_app.command("gc")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option(
    "--grace",
    default="1h",
    show_default=True,
    help="Keep anything uploaded, linked or pushed more recently than this (e.g. 30m, 2h, 0);"
    " upload sessions not written to for this long are purged.",
)
@click.option(
    "--upload-expiry",
    default="7d",
    show_default=True,
    help="Purge upload sessions begun longer ago than this, with their data.",
)
@data_dir_option
@format_option
@click.pass_obj
def gc_cmd(
    opts: GlobalOptions,
    dry_run: bool,
    grace: str,
    upload_expiry: str,
    data_dir: Path | None,
    fmt: OutputFormat,
) -> None:
    """Remove untagged, unreferenced manifests and unreferenced blobs, and expired or
    abandoned upload sessions, while the registry keeps serving."""
    meta = _meta(opts, data_dir)
    storage = _storage(opts, data_dir)
    report = collect_garbage(
        meta,
        storage,
        _duration(grace, "--grace", zero=True),
        dry_run=dry_run,
        upload_expiry=_duration(upload_expiry, "--upload-expiry"),
    )
    if fmt is OutputFormat.JSON:
        print_json(report.__dict__)
        return
    verb = "would remove" if dry_run else "removed"
    for m in report.manifests:
        click.echo(f"{verb} manifest {m}")
    for b in report.blobs:
        click.echo(f"{verb} blob {b}")
    for u in report.uploads:
        click.echo(f"{verb} upload {u}")
    for t in report.trash:
        click.echo(f"finished trash of a killed gc: {t}")
    click.echo(
        f"{verb} {len(report.manifests)} manifests, {len(report.blobs)} blobs,"
        f" {report.freed_bytes} bytes, {len(report.uploads)} expired or abandoned uploads",
        err=True,
    )
