"""A build from Dockerfile to named image: the builder with the one ``FROM`` resolver,
the build cache imported before and exported after, the result named in the store and
written to every output (a registry too), all while the store is held for writing so
no prune takes new layers before they are named. Several target platforms make one
build each (at the same time, as the machine's cores allow) and one OCI index naming
each image with its platform, which is what the names and outputs get."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from imageforge.builder import Builder, BuildOptions, BuildResult
from imageforge.dockerfile import platform_arg
from imageforge.errors import InvalidArgument
from imageforge.oci import (
    Digest,
    Image,
    ImageIndex,
    Platform,
    Reference,
    buildable_platform,
    mutate,
)
from imageforge.pipeline._base import FromResolver
from imageforge.pipeline._build_cache import (
    CacheLocation,
    export_build_cache,
    import_build_cache,
)
from imageforge.pipeline._location import Location, parse_location, store_name
from imageforge.pipeline._session import Session
from imageforge.progress import ProgressSink
from imageforge.runtime import ContainerGroup, Runtime
from imageforge.transports import TransportRef

__all__ = ["Built", "build", "target_platforms"]


@dataclass(frozen=True)
class Built:
    """A finished build: the builder's result, the store names given, the outputs
    written. A build for several platforms has ``platforms`` (each target and its
    result, ``result`` the first's) and ``index``, the OCI index that was named."""

    result: BuildResult
    names: tuple[str, ...]
    outputs: tuple[Location, ...]
    index: ImageIndex | None = None
    platforms: tuple[tuple[str, BuildResult], ...] = ()

    @property
    def written(self) -> Image | ImageIndex:
        """What the names and outputs got: the index, else the image."""
        return self.index if self.index is not None else self.result.image

    @property
    def digest(self) -> Digest:
        return self.written.digest


class _PlatformProgress:
    """A progress sink that says which platform's build each event is of."""

    def __init__(self, sink: ProgressSink, platform: str) -> None:
        self._sink = sink
        self._prefix = f"[{platform}] "

    def start(self, key: str, description: str, total: int | None = None, unit: str = "") -> None:
        self._sink.start(self._prefix + key, self._prefix + description, total, unit)

    def advance(self, key: str, amount: int = 1) -> None:
        self._sink.advance(self._prefix + key, amount)

    def done(self, key: str, message: str | None = None, *, failed: bool = False) -> None:
        self._sink.done(self._prefix + key, message, failed=failed)

    def note(self, message: str) -> None:
        self._sink.note(self._prefix + message)


def target_platforms(platforms: Sequence[str]) -> tuple[str, ...]:
    """``--platform`` values (each may list several, comma-separated) checked and
    spelled as BuildKit spells ``TARGETPLATFORM``, each once, in the order given."""
    out: list[str] = []
    for value in platforms:
        for item in value.split(","):
            if not item.strip():
                raise InvalidArgument(
                    f"--platform {value!r}: an empty platform", hint="e.g. linux/amd64,linux/arm64"
                )
            text = platform_arg(buildable_platform(item))
            if text not in out:
                out.append(text)
    return tuple(out)


def _descriptor_platform(text: str) -> Platform:
    """The platform an index names a build's image with: as BuildKit writes it
    (``linux/arm64`` without a ``v8`` variant)."""
    parts = text.split("/")
    return Platform(parts[0], parts[1], parts[2] if len(parts) > 2 else "")


def build(
    session: Session,
    options: BuildOptions,
    *,
    tags: Sequence[str] = (),
    outputs: Sequence[Location | str] = (),
    cache_from: Sequence[CacheLocation] = (),
    cache_to: CacheLocation | None = None,
    runtime: Runtime | None = None,
    platforms: Sequence[str] = (),
    resolver: FromResolver | None = None,
) -> Built:
    """Build ``options`` in the session's store; name the image ``tags`` there and write
    it to ``outputs`` (``oci:``, ``oci-archive:``, ``docker-archive:``, ``docker://``).
    ``cache_from``: OCI layouts or registry references :func:`export_build_cache`
    wrote, imported first; ``cache_to``: where to export this build's cache.
    ``platforms``: the target platforms (``linux/arm64``; an item may list several,
    comma-separated); one gives one image
    for it, several an index of one image each. ``resolver``: the ``FROM`` resolver
    (default a :class:`FromResolver` of the session). Nothing is named if a step fails."""
    names = tuple(store_name(Reference.parse(t)) for t in tags)
    dests = tuple(parse_location(o) if isinstance(o, str) else o for o in outputs)
    for dest in dests:
        if isinstance(dest, TransportRef) and dest.transport == "rootfs":
            raise InvalidArgument(f"--output {dest}: cannot write a rootfs: transport")
    store = session.store
    progress = session.progress
    targets = target_platforms(platforms)
    with store.writing():
        for where in cache_from:
            remote = isinstance(where, Reference)
            count = import_build_cache(store, where, client=session.client if remote else None)
            shown = f"docker://{where}" if remote else str(where)
            if count is None:
                progress.note(f"cache: none at {shown} yet; building without it")
            else:
                progress.note(f"cache: {count} step records imported from {shown}")
        resolver = resolver or FromResolver(session)
        if len(targets) <= 1:
            if targets:
                options = replace(options, platform=targets[0])
            builder = Builder(store, resolver, runtime=runtime, progress=progress)
            built = Built(builder.build(options), names, dests)
        else:
            containers = ContainerGroup()  # one Ctrl-C or failure stops every platform

            def one(target: str) -> BuildResult:
                sink = _PlatformProgress(progress, target)
                builder = Builder(
                    store, resolver, runtime=runtime, progress=sink, containers=containers
                )
                return builder.build(replace(options, platform=target))

            with ThreadPoolExecutor(max_workers=min(len(targets), os.cpu_count() or 1)) as pool:
                try:
                    results = list(pool.map(one, targets))
                except BaseException:
                    containers.stop()  # before the pool waits for the other platforms
                    raise
            index = mutate.index_of(
                [(r.image, _descriptor_platform(t)) for t, r in zip(targets, results, strict=True)]
            )
            built = Built(
                results[0], names, dests, index, tuple(zip(targets, results, strict=True))
            )
        if cache_to is not None:
            records = {
                k: v
                for _, r in built.platforms or (("", built.result),)
                for k, v in r.cache_records.items()
            }
            remote = isinstance(cache_to, Reference)
            written = export_build_cache(
                store,
                records,
                cache_to,
                client=session.client if remote else None,
                progress=progress,
            )
            shown = f"docker://{cache_to}" if remote else str(cache_to)
            progress.note(f"cache: {len(records)} steps, {written} layers -> {shown}")
        for name in names:
            session.write(built.written, TransportRef("store", name))
        for dest in dests:
            session.write(built.written, dest)
    return built
