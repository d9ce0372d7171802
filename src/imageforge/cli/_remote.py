"""Registry commands: login, logout, pull, push, copy, ls-tags.

Each parses its flags and calls ``imageforge.pipeline`` (pull, copy) or ``remote``
(login, tags) once; a registry is a source and a sink like any other transport there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import (
    GlobalOptions,
    OutputFormat,
    authfile_option,
    format_option,
    platform_option,
    remove_signatures_option,
    tls_option,
)
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._render import print_json
from imageforge.cli._session import session
from imageforge.errors import InvalidArgument
from imageforge.oci import Platform, Reference
from imageforge.pipeline import DOCKER, MODES, copy, parse_location, pull, remote_ref
from imageforge.remote import (
    Credentials,
    PushOptions,
    registry_host,
    remove_credentials,
    save_credentials,
)
from imageforge.transports import TransportRef


def _platform(text: str | None) -> Platform | None:
    return Platform.parse(text) if text else None


_referrers_mode = click.option(
    "--registry-referrers-mode",
    "referrers_mode",
    type=click.Choice(MODES),
    default=None,
    help="Write the signatures and attestations carried along in this layout "
    "(default: the layout each had).",
)


def _result(fmt: OutputFormat, doc: dict[str, str], line: str) -> None:
    if fmt is OutputFormat.JSON:
        print_json(doc)
    else:
        click.echo(line)


@app.command("login")
@click.argument("host")
@click.option("-u", "--username", default=None)
@click.option("-p", "--password", default=None, help="The password (visible to ps; prefer stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@tls_option
@authfile_option
@format_option
@click.pass_obj
def login(
    opts: GlobalOptions,
    host: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Check credentials for the registry HOST and remember them."""
    host = host.removeprefix(DOCKER).removeprefix("https://").removeprefix("http://")
    host = host.split("/", 1)[0]
    if password is not None and password_stdin:
        raise InvalidArgument("give --password or --password-stdin, not both")
    if username is None:
        if not sys.stdin.isatty() or password_stdin:
            raise InvalidArgument("login needs --username when standard input is not a terminal")
        username = click.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        if not sys.stdin.isatty():
            raise InvalidArgument("login needs --password or --password-stdin")
        password = click.prompt("Password", hide_input=True)
    if not username or not password:
        raise InvalidArgument("the user name and the password must not be empty")
    creds = Credentials(username, password)
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        s.client.ping(registry_host(host), creds)
    path = save_credentials(host, creds, authfile)
    _result(
        fmt,
        {"registry": host, "username": username, "authfile": str(path)},
        f"Login Succeeded (credentials in {path})",
    )


@app.command("logout")
@click.argument("host", required=False)
@click.option("-a", "--all", "all_hosts", is_flag=True, help="Forget every registry.")
@authfile_option
@format_option
@click.pass_obj
def logout(
    opts: GlobalOptions,
    host: str | None,
    all_hosts: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """Forget the credentials of the registry HOST."""
    if (host is None) == (not all_hosts):
        raise InvalidArgument("give a HOST or --all")
    if host is not None:
        host = host.removeprefix(DOCKER).split("/", 1)[0]
    path, removed = remove_credentials(None if all_hosts else host, authfile)
    if not removed:
        raise InvalidArgument(f"not logged in to {host} (in {path})")
    if fmt is OutputFormat.JSON:
        print_json({"removed": removed, "authfile": str(path)})
    else:
        click.echo(f"Removed login credentials for {', '.join(removed)}")


@app.command("pull")
@click.argument("reference")
@platform_option
@click.option("--all", "all_platforms", is_flag=True, help="Keep a whole multi-platform index.")
@remove_signatures_option
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def pull_command(
    opts: GlobalOptions,
    reference: str,
    platform: str | None,
    all_platforms: bool,
    remove_signatures: bool,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Pull [docker://]REFERENCE from its registry into the store, with its signatures
    and attestations (verify --local checks them with no registry); prints the digest."""
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        pulled = pull(
            s,
            remote_ref(reference),
            platform=_platform(platform),
            all_platforms=all_platforms,
            signatures=not remove_signatures,
        )
    doc = {
        "name": pulled.name,
        "digest": str(pulled.image.digest),
        "mediaType": pulled.image.media_type,
    }
    _result(fmt, doc, str(pulled.image.digest))


@app.command("push")
@click.argument("image")
@click.argument("destination", required=False)
@tls_option
@authfile_option
@click.option("--jobs", default=4, show_default=True, help="Blobs uploaded at once.")
@remove_signatures_option
@_referrers_mode
@progress_option
@format_option
@click.pass_obj
def push_command(
    opts: GlobalOptions,
    image: str,
    destination: str | None,
    tls_verify: bool,
    authfile: Path | None,
    jobs: int,
    remove_signatures: bool,
    referrers_mode: str | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Push IMAGE from the store to [docker://]DESTINATION (default: IMAGE's own name),
    with the signatures and attestations the store keeps for it; prints the manifest
    digest."""
    src = parse_location(image)
    if not isinstance(src, TransportRef) or src.transport != "store":
        raise InvalidArgument(f"{image!r}: push takes an image in the store; use copy for {image}")
    dst = remote_ref(destination or src.path)
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        digest = copy(
            s,
            src,
            dst,
            all_platforms=True,
            push_options=PushOptions(jobs=max(1, jobs)),
            signatures=not remove_signatures,
            referrers_mode=referrers_mode,
        )
    doc = {"destination": str(dst), "digest": str(digest)}
    _result(fmt, doc, str(digest))


@app.command("copy")
@click.argument("source")
@click.argument("destination")
@platform_option
@click.option("--all", "all_platforms", is_flag=True, help="Copy a whole multi-platform index.")
@remove_signatures_option
@_referrers_mode
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def copy_command(
    opts: GlobalOptions,
    source: str,
    destination: str,
    platform: str | None,
    all_platforms: bool,
    remove_signatures: bool,
    referrers_mode: str | None,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Copy an image from SOURCE to DESTINATION: docker://REF, oci:DIR[:TAG],
    oci-archive:FILE[:TAG], docker-archive:FILE[:NAME], or a name in the store.
    Signatures and attestations come along between registries, store names and oci:
    layouts."""
    src, dst = parse_location(source), parse_location(destination)
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        digest = copy(
            s,
            src,
            dst,
            platform=_platform(platform),
            all_platforms=all_platforms,
            signatures=not remove_signatures,
            referrers_mode=referrers_mode,
        )
    doc = {"source": str(src), "destination": str(dst), "digest": str(digest)}
    _result(fmt, doc, str(digest))


@app.command("ls-tags")
@click.argument("reference")
@tls_option
@authfile_option
@format_option
@click.pass_obj
def ls_tags(
    opts: GlobalOptions,
    reference: str,
    tls_verify: bool,
    authfile: Path | None,
    fmt: OutputFormat,
) -> None:
    """List the tags of the repository [docker://]REFERENCE names."""
    ref = Reference.parse(reference.removeprefix(DOCKER))
    with session(opts, tls_verify=tls_verify, authfile=authfile) as s:
        tags = s.client.list_tags(registry_host(ref.domain), ref.path)
    if fmt is OutputFormat.JSON:
        print_json({"Repository": ref.name, "Tags": tags})
        return
    for tag in tags:
        click.echo(tag)
