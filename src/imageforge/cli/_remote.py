"""Registry commands: login, logout, pull, push, copy, ls-tags.

The CLI composes ``remote`` (the registry side) with ``transports`` (every other source
and sink, the local store included); neither package imports the other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from imageforge.cli._app import app
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._progress import ProgressMode, progress_option, progress_sink
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument
from imageforge.oci import Digest, Image, ImageIndex, Platform, Reference
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.remote import (
    Client,
    Credentials,
    PushOptions,
    open_remote,
    push,
    registry_host,
    remove_credentials,
    save_credentials,
)
from imageforge.store import Store
from imageforge.transports import (
    TransportRef,
    open_source,
    parse_transport_ref,
    select_platform,
    write_image,
)

F = TypeVar("F", bound=Callable[..., Any])

DOCKER = "docker://"
PULL_JOBS = 4  # layers downloaded at once


def tls_option(func: F) -> F:
    return click.option(
        "--tls-verify",
        "tls_verify",
        type=click.BOOL,
        default=True,
        is_flag=False,
        flag_value=True,
        metavar="BOOL",
        show_default=True,
        help="Check registry certificates; --tls-verify=false also allows plain HTTP.",
    )(func)


def authfile_option(func: F) -> F:
    return click.option(
        "--authfile",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Credentials file (default: $REGISTRY_AUTH_FILE, then the containers "
        "auth.json, then ~/.docker/config.json).",
    )(func)


def platform_option(func: F) -> F:
    return click.option(
        "--platform",
        default=None,
        metavar="OS/ARCH[/VARIANT]",
        help="The image of a multi-platform index to take (default: this machine's).",
    )(func)


def _platform(text: str | None) -> Platform | None:
    return Platform.parse(text) if text else None


def remote_ref(text: str) -> Reference:
    """``[docker://]REF`` -> a reference (``:latest`` added when it has no tag or digest)."""
    return Reference.parse(text.removeprefix(DOCKER)).with_default_tag()


def store_name(ref: Reference) -> str:
    """The local name of a pulled reference: ``host/repo:tag`` or ``host/repo@digest``."""
    return str(ref.with_default_tag())


@contextmanager
def client(tls_verify: bool, authfile: Path | None) -> Iterator[Client]:
    with Client(tls_verify=tls_verify, authfile=authfile) as c:
        yield c


def pull_to_store(
    c: Client,
    ref: Reference,
    store: Store,
    *,
    platform: Platform | None = None,
    all_platforms: bool = False,
    progress: ProgressSink = NULL_PROGRESS,
) -> tuple[str, Image | ImageIndex]:
    """Pull ``ref`` into ``store`` (the host's image of an index unless
    ``all_platforms``); the local name and the object stored."""
    obj: Image | ImageIndex = open_remote(c, ref)
    if isinstance(obj, ImageIndex) and not all_platforms:
        obj = select_platform(obj, platform)
    name = store_name(ref)
    write_image(obj, TransportRef("store", name), store, progress=progress, jobs=PULL_JOBS)
    return name, obj


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
    with client(tls_verify, authfile) as c:
        c.ping(registry_host(host), creds)
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
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def pull(
    opts: GlobalOptions,
    reference: str,
    platform: str | None,
    all_platforms: bool,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Pull [docker://]REFERENCE from its registry into the store; prints the digest."""
    ref = remote_ref(reference)
    store = Store(opts.root)
    with client(tls_verify, authfile) as c, progress_sink(progress) as sink:
        name, obj = pull_to_store(
            c,
            ref,
            store,
            platform=_platform(platform),
            all_platforms=all_platforms,
            progress=sink,
        )
    doc = {"name": name, "digest": str(obj.digest), "mediaType": obj.media_type}
    _result(fmt, doc, str(obj.digest))


def _split(text: str) -> Reference | TransportRef:
    if text.startswith(DOCKER):
        return remote_ref(text)
    return parse_transport_ref(text)


def _copy(
    opts: GlobalOptions,
    src: Reference | TransportRef,
    dst: Reference | TransportRef,
    *,
    tls_verify: bool,
    authfile: Path | None,
    platform: Platform | None,
    all_platforms: bool,
    progress: ProgressMode,
    options: PushOptions | None = None,
) -> Digest:
    # The store is opened (and its root created) only when a side is in it.
    local = any(isinstance(x, TransportRef) and x.transport == "store" for x in (src, dst))
    store = Store(opts.root) if local else None
    with ExitStack() as stack:
        c = stack.enter_context(client(tls_verify, authfile))
        sink = stack.enter_context(progress_sink(progress))
        obj: Image | ImageIndex
        if isinstance(src, Reference):
            obj = open_remote(c, src)
        else:
            obj = stack.enter_context(open_source(src, store))
        if isinstance(obj, ImageIndex) and not all_platforms:
            obj = select_platform(obj, platform)
        if isinstance(dst, Reference):
            mount = None
            if isinstance(src, Reference) and src.domain == dst.domain and src.path != dst.path:
                mount = src.path  # same registry: mount blobs instead of copying them
            opts_ = options or PushOptions()
            if mount:
                opts_ = PushOptions(opts_.jobs, opts_.monolithic_limit, opts_.chunk_size, mount)
            return push(c, obj, dst, options=opts_, progress=sink)
        jobs = PULL_JOBS if isinstance(src, Reference) else 1
        return write_image(obj, dst, store, progress=sink, platform=platform, jobs=jobs).digest


@app.command("push")
@click.argument("image")
@click.argument("destination", required=False)
@tls_option
@authfile_option
@click.option("--jobs", default=4, show_default=True, help="Blobs uploaded at once.")
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
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Push IMAGE from the store to [docker://]DESTINATION (default: IMAGE's own name);
    prints the manifest digest."""
    src = parse_transport_ref(image)
    if src.transport != "store":
        raise InvalidArgument(f"{image!r}: push takes an image in the store; use copy for {src}")
    dst = remote_ref(destination or src.path)
    digest = _copy(
        opts,
        src,
        dst,
        tls_verify=tls_verify,
        authfile=authfile,
        platform=None,
        all_platforms=True,
        progress=progress,
        options=PushOptions(jobs=max(1, jobs)),
    )
    doc = {"destination": str(dst), "digest": str(digest)}
    _result(fmt, doc, str(digest))


@app.command("copy")
@click.argument("source")
@click.argument("destination")
@platform_option
@click.option("--all", "all_platforms", is_flag=True, help="Copy a whole multi-platform index.")
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
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Copy an image from SOURCE to DESTINATION: docker://REF, oci:DIR[:TAG],
    oci-archive:FILE[:TAG], docker-archive:FILE[:NAME], or a name in the store."""
    src, dst = _split(source), _split(destination)
    if isinstance(dst, TransportRef) and dst.transport == "rootfs":
        raise InvalidArgument(f"{destination!r}: rootfs: is a source only")
    digest = _copy(
        opts,
        src,
        dst,
        tls_verify=tls_verify,
        authfile=authfile,
        platform=_platform(platform),
        all_platforms=all_platforms,
        progress=progress,
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
    with client(tls_verify, authfile) as c:
        tags = c.list_tags(registry_host(ref.domain), ref.path)
    if fmt is OutputFormat.JSON:
        print_json({"Repository": ref.name, "Tags": tags})
        return
    for tag in tags:
        click.echo(tag)
