"""What a :class:`Builder` keeps from one build to the next and hands to each: the
store and its build cache, the snapshotter and the Differ, the base images it resolved,
the runtime it picked, the layer format and the progress sink.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

from imageforge.builder._cache import BuildCache
from imageforge.builder._config import env_map
from imageforge.builder._copy import FileHashes
from imageforge.builder._model import BaseResolver, LayerFormat
from imageforge.errors import NotFound
from imageforge.layers import Differ
from imageforge.oci import Image, Platform, host_platform, mutate
from imageforge.progress import ProgressSink
from imageforge.runtime import (
    DEFAULT_PATH,
    ContainerGroup,
    Runtime,
    Snapshotter,
    default_probe_cache,
    forget_runtime_probe,
    select_runtime,
)
from imageforge.store import Store

__all__ = ["BaseImages", "BuildServices", "RuntimeChoice"]


class BaseImages:
    """``FROM`` images through the caller's resolver, each resolved once (``scratch``
    is made here and never reaches the resolver)."""

    def __init__(self, resolver: BaseResolver) -> None:
        self._resolver = resolver
        self._images: dict[tuple[str, str | None], Image] = {}
        self._lock = threading.Lock()

    def get(self, name: str, platform: str | None) -> Image:
        key = (name, platform)
        with self._lock:
            if key not in self._images:
                if name.lower() == "scratch":
                    plat = Platform.parse(platform) if platform else host_platform()
                    self._images[key] = mutate.empty_image(plat.os, plat.architecture, plat.variant)
                else:
                    self._images[key] = self._resolver(name, platform)
            return self._images[key]

    def env(self, name: str, platform: str | None) -> Mapping[str, str]:
        """The base's environment, which a stage's words expand with."""
        try:
            base = self.get(name, platform)
        except NotFound:
            return {"PATH": DEFAULT_PATH}  # a stage --target may not need; else FROM fails
        env = env_map(dict(base.config().data.get("config") or {}))
        env.setdefault("PATH", DEFAULT_PATH)  # the build's config gets it too
        return env


class RuntimeChoice:
    """The OCI runtime RUN steps use: the one given, else the first that starts a trial
    container here (probed once, the verdict remembered on disk)."""

    def __init__(self, runtime: Runtime | None, progress: ProgressSink) -> None:
        self._runtime = runtime
        self._progress = progress
        self._probe_cache = default_probe_cache()
        self._lock = threading.Lock()

    def get(self) -> Runtime:
        with self._lock:
            if self._runtime is None:
                self._runtime = select_runtime(progress=self._progress, cache=self._probe_cache)
            return self._runtime

    def forget(self) -> None:
        """The runtime could not start a container: probe afresh next time."""
        forget_runtime_probe(self._probe_cache)


@dataclass(frozen=True)
class BuildServices:
    store: Store
    snapshots: Snapshotter
    differ: Differ
    cache: BuildCache
    hashes: FileHashes
    bases: BaseImages
    runtimes: RuntimeChoice
    layer_format: LayerFormat
    progress: ProgressSink
    containers: ContainerGroup = field(default_factory=ContainerGroup)
