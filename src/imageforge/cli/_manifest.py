"""``imageforge manifest create|add|remove|inspect|push``: manifest lists (OCI indexes)
in the store joining images built separately, as podman's and buildah's ``manifest``
commands do. Each parses its flags and calls ``imageforge.pipeline`` once."""

from __future__ import annotations

import json
from pathlib import Path

import click

from imageforge.cli._app import app
from imageforge.cli._options import (
    GlobalOptions,
    OutputFormat,
    authfile_option,
    format_option,
    tls_option,
)
from imageforge.cli._progress import ProgressMode, progress_option
from imageforge.cli._render import print_json
from imageforge.cli._session import session
from imageforge.oci import ImageIndex, Platform
from imageforge.pipeline import (
    copy,
    manifest_add,
    manifest_create,
    manifest_remove,
    open_list,
    remote_ref,
)
from imageforge.transports import TransportRef


def _show(fmt: OutputFormat, name: str, index: ImageIndex) -> None:
    if fmt is OutputFormat.JSON:
        print_json({"name": name, "digest": str(index.digest), **index.manifest().to_json()})
    else:
        click.echo(str(index.digest))


def _platform(os_: str | None, arch: str | None, variant: str | None) -> Platform | None:
    if arch is None:
        return None
    return Platform.parse("/".join(p for p in (os_ or "linux", arch, variant) if p))


@app.group("manifest")
def manifest() -> None:
    """Manifest lists: join images built separately into one multi-platform index."""


@manifest.command("create")
@click.argument("name")
@click.argument("images", nargs=-1)
@click.option("--all", "all_platforms", is_flag=True, help="Add every image of an index.")
@progress_option
@format_option
@click.pass_obj
def create(
    opts: GlobalOptions,
    name: str,
    images: tuple[str, ...],
    all_platforms: bool,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Make the manifest list NAME in the store, of IMAGES (store names, oci:DIR[:TAG],
    docker://REF ...; none: an empty list). Prints its digest."""
    with session(opts, progress) as s:
        index = manifest_create(s, name, images, all_platforms=all_platforms)
    _show(fmt, name, index)


@manifest.command("add")
@click.argument("name")
@click.argument("image")
@click.option("--all", "all_platforms", is_flag=True, help="Add every image of an index.")
@click.option("--os", "os_", default=None, help="The OS to name the image with.")
@click.option("--arch", default=None, help="The architecture to name the image with.")
@click.option("--variant", default=None, help="The variant to name the image with.")
@progress_option
@format_option
@click.pass_obj
def add(
    opts: GlobalOptions,
    name: str,
    image: str,
    all_platforms: bool,
    os_: str | None,
    arch: str | None,
    variant: str | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Add IMAGE to the list NAME, named with its config's platform (or --os/--arch/
    --variant); an image already listed is named again. Prints the list's digest."""
    with session(opts, progress) as s:
        index = manifest_add(
            s, name, image, platform=_platform(os_, arch, variant), all_platforms=all_platforms
        )
    _show(fmt, name, index)


@manifest.command("remove")
@click.argument("name")
@click.argument("digest")
@format_option
@click.pass_obj
def remove(opts: GlobalOptions, name: str, digest: str, fmt: OutputFormat) -> None:
    """Take the image DIGEST out of the list NAME."""
    with session(opts) as s:
        index = manifest_remove(s, name, digest)
    _show(fmt, name, index)


@manifest.command("inspect")
@click.argument("name")
@format_option
@click.pass_obj
def inspect(opts: GlobalOptions, name: str, fmt: OutputFormat) -> None:
    """Print the list NAME: its OCI index JSON."""
    with session(opts) as s:
        full, _ = open_list(s, name)
        raw = s.open(TransportRef("store", full)).raw_manifest()
    if fmt is OutputFormat.JSON:
        print_json(json.loads(raw))
    else:
        click.echo(json.dumps(json.loads(raw), indent=2))


@manifest.command("push")
@click.argument("name")
@click.argument("destination")
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def push(
    opts: GlobalOptions,
    name: str,
    destination: str,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Push the list NAME and every image in it to [docker://]DESTINATION."""
    dst = remote_ref(destination)
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        full, _ = open_list(s, name)
        digest = copy(s, TransportRef("store", full), dst, all_platforms=True)
    if fmt is OutputFormat.JSON:
        print_json({"destination": str(dst), "digest": str(digest)})
    else:
        click.echo(str(digest))
