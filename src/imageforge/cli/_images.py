"""Image commands on the local store: import, export, images, inspect, tag, rmi, prune."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

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
from imageforge.cli._render import print_json, stdout_console
from imageforge.cli._session import session
from imageforge.errors import Conflict, NotFound
from imageforge.oci import ImageIndex, Platform, Reference
from imageforge.pipeline import (
    export_image,
    find_in_store,
    image_for_platform,
    import_image,
    location_text,
    prune,
)
from imageforge.store import Store, image_entries, summarize
from imageforge.transports import TransportRef, open_source


def _store(opts: GlobalOptions) -> Store:
    return Store(opts.root)


def _name(text: str) -> str:
    return str(Reference.parse(text).with_default_tag())


def _human_size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"  # pragma: no cover


def _ago(created: str | None) -> str:
    if not created:
        return ""
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    seconds = (datetime.now(when.tzinfo) - when).total_seconds()
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


@app.command("import")
@click.argument("source")
@click.option("-t", "--tag", "tags", multiple=True, required=True, help="NAME[:TAG] to give it.")
@remove_signatures_option
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def import_(
    opts: GlobalOptions,
    source: str,
    tags: tuple[str, ...],
    remove_signatures: bool,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Import an image from SOURCE: oci:DIR[:TAG], oci-archive:FILE[:TAG],
    docker-archive:FILE[:NAME], rootfs:DIR|TAR, docker://REF. Prints the manifest
    digest. Signatures and attestations kept in a registry, an oci: layout or an
    oci-archive: come along (not with --remove-signatures)."""
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        imported = import_image(s, source, tags, signatures=not remove_signatures)
    if fmt is OutputFormat.JSON:
        doc = {"digest": str(imported.digest), "mediaType": imported.media_type}
        print_json({**doc, "names": list(imported.names)})
    else:
        click.echo(str(imported.digest))


@app.command("export")
@click.argument("image")
@click.argument("destination")
@click.option(
    "--platform",
    default=None,
    metavar="OS/ARCH[/VARIANT]",
    help="Of an index, export only this platform's image (docker-archive:, which holds "
    "no index: this one, default this machine's, else the index's only one).",
)
@remove_signatures_option
@tls_option
@authfile_option
@progress_option
@format_option
@click.pass_obj
def export(
    opts: GlobalOptions,
    image: str,
    destination: str,
    platform: str | None,
    remove_signatures: bool,
    tls_verify: bool,
    authfile: Path | None,
    progress: ProgressMode,
    fmt: OutputFormat,
) -> None:
    """Export IMAGE to DESTINATION: oci:DIR[:TAG], oci-archive:FILE[:TAG],
    docker-archive:FILE[:NAME], docker://REF. Without a tag, the image's own name is
    used. A multi-platform index goes whole (one platform with --platform), except to
    docker-archive:, which takes one image, as docker save does. The signatures and
    attestations the store keeps for it go along (to a layout or archive as its
    referrers), not with --remove-signatures."""
    wanted = Platform.parse(platform) if platform else None
    with session(opts, progress, tls_verify=tls_verify, authfile=authfile) as s:
        exported = export_image(
            s, image, destination, platform=wanted, signatures=not remove_signatures
        )
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "image": exported.name,
                "destination": location_text(exported.destination),
                "digest": str(exported.digest),
                "mediaType": exported.media_type,
            }
        )
    else:
        click.echo(str(exported.digest))


@app.command("images")
@format_option
@click.pass_obj
def images(opts: GlobalOptions, fmt: OutputFormat) -> None:
    """List the images in the store (not the signatures and attestations kept beside
    them)."""
    store = _store(opts)
    rows = [summarize(store, entry) for entry in image_entries(store)]
    if fmt is OutputFormat.JSON:
        print_json([r.to_json() for r in rows])
        return
    from rich.table import Table  # only for a table: see _render

    table = Table(box=None, pad_edge=False)
    for col in ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "PLATFORM"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.repository,
            r.tag,
            r.image_id.short,
            _ago(r.created),
            _human_size(r.size),
            ",".join(r.platforms),
        )
    stdout_console().print(table)


def _inspect_doc(store: Store, name: str, platform: Platform | None = None) -> dict[str, Any]:
    """An image's (an index's: its list of platforms, and the image for ``platform`` as
    every command chooses it; with no ``platform`` and no image to choose, the list
    only, with ``platformImage`` null and a ``note`` why)."""
    with open_source(TransportRef("store", name), store) as obj:
        doc: dict[str, Any] = {
            "name": name,
            "digest": str(obj.digest),
            "mediaType": obj.media_type,
        }
        if isinstance(obj, ImageIndex):
            index = obj.manifest()
            doc["manifest"] = index.to_json()
            doc["platforms"] = [
                {"platform": str(d.platform or ""), "digest": str(d.digest), "size": d.size}
                for d in index.manifests
            ]
            try:
                image = image_for_platform(obj, platform, name)
            except NotFound as exc:
                if platform is not None:
                    raise
                doc["platformImage"] = None
                doc["note"] = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
                return doc
            doc["platformImage"] = str(image.digest)
        else:
            image = obj
        manifest = image.manifest()
        config = image.config()
        doc.update(
            {
                "manifest"
                if not isinstance(obj, ImageIndex)
                else "imageManifest": manifest.to_json(),
                "config": config.data,
                "created": config.created,
                "platform": str(config.platform),
                "size": sum(d.size for d in manifest.layers) + manifest.config.size,
                "layers": [
                    {
                        "digest": str(d.digest),
                        "diffId": str(diff),
                        "size": d.size,
                        "mediaType": d.media_type,
                    }
                    for d, diff in zip(manifest.layers, config.diff_ids, strict=False)
                ],
                "history": [h.to_json() for h in config.history],
            }
        )
    return doc


@app.command("inspect")
@click.argument("image")
@platform_option
@format_option
@click.pass_obj
def inspect(opts: GlobalOptions, image: str, platform: str | None, fmt: OutputFormat) -> None:
    """Show an image's manifest, config, layers, sizes and history (an index's: its
    platforms, then the image for --platform)."""
    store = _store(opts)
    name, _ = find_in_store(store, image)
    doc = _inspect_doc(store, name, Platform.parse(platform) if platform else None)
    if fmt is OutputFormat.JSON:
        print_json(doc)
        return
    from rich.table import Table  # only for a table: see _render

    console = stdout_console()
    console.print(f"name:      {doc['name']}", markup=False)
    console.print(f"digest:    {doc['digest']}", markup=False)
    console.print(f"mediaType: {doc['mediaType']}", markup=False)
    if "platforms" in doc:
        children = Table(title="platforms", title_justify="left", box=None, pad_edge=False)
        for col in ("PLATFORM", "DIGEST", "SIZE"):
            children.add_column(col)
        for child in doc["platforms"]:
            children.add_row(child["platform"], child["digest"], str(child["size"]))
        console.print(children)
        if doc["platformImage"] is None:
            console.print(f"note:      {doc['note']}", markup=False)
            return
        console.print(f"image:     {doc['platformImage']}", markup=False)
    console.print(f"platform:  {doc['platform']}", markup=False)
    console.print(f"created:   {doc['created'] or ''}", markup=False)
    console.print(f"size:      {_human_size(doc['size'])}", markup=False)
    layers = Table(title="layers", title_justify="left", box=None, pad_edge=False)
    for col in ("#", "DIGEST", "SIZE", "MEDIA TYPE"):
        layers.add_column(col)
    for i, layer in enumerate(doc["layers"], 1):
        layers.add_row(str(i), layer["digest"], _human_size(layer["size"]), layer["mediaType"])
    console.print(layers)
    history = Table(title="history", title_justify="left", box=None, pad_edge=False)
    for col in ("CREATED", "CREATED BY", "EMPTY"):
        history.add_column(col)
    for h in doc["history"]:
        history.add_row(
            h.get("created", ""), h.get("created_by", ""), "yes" if h.get("empty_layer") else ""
        )
    console.print(history)


@app.command("tag")
@click.argument("source")
@click.argument("target")
@format_option
@click.pass_obj
def tag(opts: GlobalOptions, source: str, target: str, fmt: OutputFormat) -> None:
    """Give the image SOURCE the additional name TARGET."""
    store = _store(opts)
    shown, digest = find_in_store(store, source)
    info_type = store.read_manifest(digest)[1].media_type
    name = _name(target)
    store.refs.set(name, digest, info_type)
    if fmt is OutputFormat.JSON:
        print_json({"source": shown, "name": name, "digest": str(digest)})


@app.command("rmi")
@click.argument("images_", metavar="IMAGE...", nargs=-1, required=True)
@format_option
@click.pass_obj
def rmi(opts: GlobalOptions, images_: tuple[str, ...], fmt: OutputFormat) -> None:
    """Remove image names; content no name reaches any more is deleted."""
    store = _store(opts)
    untagged: list[str] = []
    for text in images_:
        name, digest = find_in_store(store, text)
        names = [name] if name in store.refs.names_for(digest) else store.refs.names_for(digest)
        for n in names:
            store.refs.delete(n)
            untagged.append(n)
            if fmt is OutputFormat.TABLE:
                click.echo(f"Untagged: {Reference.parse(n).familiar()}")
    removed, freed, busy = 0, 0, False
    try:
        with store.lock.exclusive(blocking=False):
            pass
    except Conflict:
        busy = True
        click.echo("store busy: run 'imageforge prune' later to reclaim space", err=True)
    else:
        report = store.prune()
        removed, freed = len(report.removed), report.freed
    if fmt is OutputFormat.JSON:
        print_json({"untagged": untagged, "deletedBlobs": removed, "freed": freed, "busy": busy})
    elif removed:
        click.echo(f"Deleted: {removed} blobs, {_human_size(freed)}")


@app.command("prune")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
@format_option
@click.pass_obj
def prune_command(opts: GlobalOptions, dry_run: bool, fmt: OutputFormat) -> None:
    """Delete blobs that no image name reaches, abandoned partial downloads, unpacked
    layers no image uses and what scan kept of images no name reaches."""
    pruned = prune(_store(opts), dry_run=dry_run)
    report, snapshots_freed = pruned.blobs, pruned.snapshots_freed
    if fmt is OutputFormat.JSON:
        print_json(
            {
                "dryRun": dry_run,
                "removed": [{"digest": str(b.digest), "size": b.size} for b in report.removed],
                "freed": report.freed,
                "ingestsRemoved": report.ingests_removed,
                "snapshotsFreed": snapshots_freed,
                "scanCacheRemoved": pruned.scan_cache_removed,
                "scanCacheFreed": pruned.scan_cache_freed,
            }
        )
        return
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {len(report.removed)} blobs, {_human_size(report.freed)}")
    if snapshots_freed:
        click.echo(f"deleted unpacked layers no image uses, {_human_size(snapshots_freed)}")
    if pruned.scan_cache_removed:
        click.echo(
            f"{verb} {pruned.scan_cache_removed} scan-cache entries, "
            f"{_human_size(pruned.scan_cache_freed)}"
        )
