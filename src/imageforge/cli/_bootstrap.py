"""``imageforge bootstrap busybox|debian``: base images made here, no registry needed."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, cast

import click

from imageforge.bootstrap import DEBIAN_VARIANTS, BusyboxSource, busybox_image, debian_image
from imageforge.cli._app import app
from imageforge.cli._images import _human_size
from imageforge.cli._options import GlobalOptions, OutputFormat, format_option
from imageforge.cli._progress import ProgressMode, progress_option, progress_sink
from imageforge.cli._render import print_json
from imageforge.errors import InvalidArgument
from imageforge.layers import Compression
from imageforge.oci import Image, Reference
from imageforge.pipeline import parse_location
from imageforge.progress import ProgressSink
from imageforge.store import Store
from imageforge.transports import TransportRef, write_image

Make = Callable[[Store, ProgressSink], Image]


def _destination(output: str, name: str) -> TransportRef:
    dest = parse_location(output)
    writable = ("oci", "oci-archive", "docker-archive")
    if not isinstance(dest, TransportRef) or dest.transport not in writable:
        raise InvalidArgument(
            f"--output {output!r}: expected oci:DIR[:TAG], oci-archive:FILE[:TAG] or "
            "docker-archive:FILE[:NAME]",
            hint="without --output the image goes into the store under its -t name",
        )
    if dest.tag is None:
        tag = name if dest.transport == "docker-archive" else Reference.parse(name).tag
        dest = TransportRef(dest.transport, dest.path, tag)
    return dest


def _image_size(image: Image) -> int:
    manifest = image.manifest()
    return len(image.raw_manifest()) + manifest.config.size + sum(d.size for d in manifest.layers)


def _deliver(
    opts: GlobalOptions,
    make: Make,
    tag: str,
    output: str | None,
    fmt: OutputFormat,
    progress: ProgressMode,
) -> None:
    """Make the image and put it where asked: the store under ``tag`` (the layer is
    written into the store once and named there), or ``output`` through a throwaway
    store, leaving the user's store untouched."""
    name = str(Reference.parse(tag).with_default_tag())
    dest = _destination(output, name) if output else TransportRef("store", name)
    with ExitStack() as stack:
        sink = stack.enter_context(progress_sink(progress))
        if output:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="imageforge-bootstrap-"))
            store = Store(Path(tmp))
        else:
            store = Store(opts.root)
            # Held until the name is set, so a prune cannot take the new layer first.
            stack.enter_context(store.writing())
        image = make(store, sink)
        write_image(image, dest, store, progress=sink)
    layers = [
        {"digest": str(lyr.digest), "diffId": str(lyr.diff_id), "size": lyr.size}
        for lyr in image.layers()
    ]
    size = _image_size(image)
    if fmt is OutputFormat.JSON:
        doc: dict[str, Any] = {
            "name": name,
            "digest": str(image.digest),
            "size": size,
            "layers": layers,
        }
        if output:
            doc["output"] = str(dest)
        print_json(doc)
        return
    where = str(dest) if output else Reference.parse(name).familiar()
    click.echo(f"{where} {image.digest} {_human_size(size)}")


def _tag_option(default: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "-t",
        "--tag",
        default=default,
        show_default=default is not None,
        metavar="NAME[:TAG]",
        help="Name to give the image.",
    )


_output_option = click.option(
    "--output",
    metavar="DEST",
    help="Write the image to oci:DIR[:TAG], oci-archive:FILE[:TAG] or "
    "docker-archive:FILE[:NAME] instead of the store.",
)
_compression_option = click.option(
    "--compression",
    type=click.Choice(["gzip", "zstd", "none"]),
    default="gzip",
    show_default=True,
    help="How the layer is compressed.",
)


@app.group("bootstrap")
def bootstrap() -> None:
    """Make base images without a registry: busybox, debian."""


@bootstrap.command("busybox")
@_tag_option("busybox:latest")
@_output_option
@click.option(
    "--source",
    type=click.Choice(["auto", "installed", "download"]),
    default="auto",
    show_default=True,
    help="Where busybox-static comes from: the installed package (if intact), "
    "apt-get download, or the installed one else a download.",
)
@click.option(
    "--arch",
    default=None,
    metavar="ARCH",
    help="A Debian architecture or platform (arm64, armhf, linux/arm64; default this "
    "machine's): a foreign one is downloaded, and needs a qemu-user binfmt_misc handler.",
)
@_compression_option
@format_option
@progress_option
@click.pass_obj
def busybox(
    opts: GlobalOptions,
    tag: str,
    output: str | None,
    source: str,
    arch: str | None,
    compression: str,
    fmt: OutputFormat,
    progress: ProgressMode,
) -> None:
    """A busybox image from Debian's busybox-static: /bin/busybox, a hardlink per applet,
    root and nobody, Cmd ["sh"]. Reproducible: the same digest every run."""

    def make(store: Store, sink: ProgressSink) -> Image:
        return busybox_image(
            store,
            progress=sink,
            compression=cast(Compression, compression),
            source=cast(BusyboxSource, source),
            arch=arch,
        )

    _deliver(opts, make, tag, output, fmt, progress)


@bootstrap.command("debian")
@click.option("--suite", default="bookworm", show_default=True, help="Debian suite.")
@click.option(
    "--slim",
    is_flag=True,
    help="Leave out docs, man pages and translations, as Debian's -slim images do.",
)
@click.option(
    "--mirror",
    metavar="URL",
    help="Debian mirror (default: the one in the host's /etc/apt sources).",
)
@click.option(
    "--variant",
    type=click.Choice(list(DEBIAN_VARIANTS)),
    default="minbase",
    show_default=True,
    help="debootstrap variant (default: what debootstrap installs without --variant).",
)
@click.option(
    "--arch",
    default=None,
    metavar="ARCH",
    help="A Debian architecture or platform (arm64, armhf, linux/arm64; default this "
    "machine's): a foreign one's second stage runs under qemu-user (minutes), which "
    "needs a binfmt_misc handler.",
)
@_tag_option(None)
@_output_option
@_compression_option
@format_option
@progress_option
@click.pass_obj
def debian(
    opts: GlobalOptions,
    suite: str,
    slim: bool,
    mirror: str | None,
    variant: str,
    arch: str | None,
    tag: str | None,
    output: str | None,
    compression: str,
    fmt: OutputFormat,
    progress: ProgressMode,
) -> None:
    """A Debian image made by debootstrap (as root, about 30 s and 40 MB of downloads),
    tidied as the official images are; named debian:SUITE[-slim] unless -t says."""

    def make(store: Store, sink: ProgressSink) -> Image:
        return debian_image(
            store,
            suite=suite,
            slim=slim,
            mirror=mirror,
            variant=variant,
            progress=sink,
            compression=cast(Compression, compression),
            arch=arch,
        )

    name = tag or f"debian:{suite}{'-slim' if slim else ''}"
    _deliver(opts, make, name, output, fmt, progress)
