"""A build from Dockerfile to named image: the builder with the one ``FROM`` resolver,
the build cache imported before and exported after, the result named in the store and
written to every output (a registry too), all while the store is held for writing so
no prune takes new layers before they are named."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageforge.builder import Builder, BuildOptions, BuildResult
from imageforge.errors import InvalidArgument
from imageforge.oci import Reference
from imageforge.pipeline._base import FromResolver
from imageforge.pipeline._build_cache import export_build_cache, import_build_cache
from imageforge.pipeline._location import Location, parse_location, store_name
from imageforge.pipeline._session import Session
from imageforge.runtime import Runtime
from imageforge.transports import TransportRef

__all__ = ["Built", "build"]


@dataclass(frozen=True)
class Built:
    """A finished build: the builder's result, the store names given, the outputs
    written."""

    result: BuildResult
    names: tuple[str, ...]
    outputs: tuple[Location, ...]


def build(
    session: Session,
    options: BuildOptions,
    *,
    tags: Sequence[str] = (),
    outputs: Sequence[Location | str] = (),
    cache_from: Sequence[Path] = (),
    cache_to: Path | None = None,
    runtime: Runtime | None = None,
) -> Built:
    """Build ``options`` in the session's store; name the image ``tags`` there and write
    it to ``outputs`` (``oci:``, ``oci-archive:``, ``docker-archive:``, ``docker://``).
    ``cache_from``: OCI layouts :func:`export_build_cache` wrote, imported first;
    ``cache_to``: where to export this build's cache. Nothing is named if a step fails."""
    names = tuple(store_name(Reference.parse(t)) for t in tags)
    dests = tuple(parse_location(o) if isinstance(o, str) else o for o in outputs)
    for dest in dests:
        if isinstance(dest, TransportRef) and dest.transport == "rootfs":
            raise InvalidArgument(f"--output {dest}: cannot write a rootfs: transport")
    store = session.store
    progress = session.progress
    with store.writing():
        for directory in cache_from:
            count = import_build_cache(store, directory)
            progress.note(f"cache: {count} step records imported from {directory}")
        builder = Builder(store, FromResolver(session), runtime=runtime, progress=progress)
        result = builder.build(options)
        if cache_to is not None:
            written = export_build_cache(store, result.cache_records, cache_to, progress=progress)
            records = len(result.cache_records)
            progress.note(f"cache: {records} steps, {written} layers -> {cache_to}")
        for name in names:
            session.write(result.image, TransportRef("store", name))
        for dest in dests:
            session.write(result.image, dest)
    return Built(result, names, dests)
