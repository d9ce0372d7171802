"""What a build is asked to do and what it reports."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imageforge.layers import Compression
from imageforge.oci import Descriptor, Digest, Image
from imageforge.runtime import Limits, Security

__all__ = [
    "BaseResolver",
    "BuildOptions",
    "BuildResult",
    "CacheRecord",
    "LayerFormat",
    "StepReport",
]

CacheRecord = tuple[Descriptor | None, Digest | None]
"""A build cache record: the layer a step made and its diff_id, or (None, None)."""

BaseResolver = Callable[[str, "str | None"], Image]
"""``FROM`` through the caller: (image reference, platform or None) -> the image. The
``imageforge.pipeline.FromResolver`` reads the local store, every transport and
registries; ``scratch`` never reaches it."""


@dataclass(frozen=True)
class BuildOptions:
    """``imageforge build``'s inputs. ``dockerfile`` defaults to ``CONTEXT/Dockerfile``;
    ``network`` is what RUN steps get (``private``, ``none`` or ``host``; see
    ``_network`` for what a Dockerfile's ``RUN --network`` may change), ``allow`` the
    entitlements granted (``network.host``), ``security`` the ``--security-opt``s,
    ``limits`` the resource limits of every RUN step (``--memory``, ``--cpus``,
    ``--pids-limit``; not part of a step's cache key, as in buildah and BuildKit: they
    bound how a command runs, not what it writes)."""

    context: Path
    dockerfile: Path | None = None
    build_args: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    network: str = "private"
    allow: frozenset[str] = frozenset()
    security: Security = field(default_factory=Security)
    limits: Limits = field(default_factory=Limits)
    source_date_epoch: int | None = None
    target: str | None = None
    dockerfile_text: str | None = None  # the Dockerfile itself (``-f -``), not a path
    secrets: Mapping[str, bytes] = field(default_factory=dict)  # --secret id -> value
    platform: str | None = None  # --platform: the target (None: this machine's)
    isolation: str = "oci"  # or "none": one plain root, RUN chrooted (see _isolation_none)
    ignore_paths: tuple[str, ...] = ()  # --ignore-path: never compared with --isolation none


@dataclass(frozen=True)
class LayerFormat:
    """How a build writes the layers it makes. ``level`` None is the compressor's
    default, except gzip's, which is -1 here: go-containerregistry writes layers so, and
    on a Debian apt layer it is about 5x faster than -6 for about 9% more bytes (the
    peers, buildah and BuildKit, do not compress at build time at all)."""

    compression: Compression = "gzip"
    level: int | None = None

    @property
    def compression_level(self) -> int | None:
        if self.level is None and self.compression == "gzip":
            return 1
        return self.level


@dataclass(frozen=True)
class StepReport:
    """One instruction as it went: ``cached`` or run, its time, the layer it made."""

    index: int
    line: int
    instruction: str
    cached: bool
    seconds: float
    layer: str | None = None
    size: int = 0
    kind: str = "metadata"  # or "fs": a step that may change the filesystem

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "line": self.line,
            "instruction": self.instruction,
            "cached": self.cached,
            "seconds": round(self.seconds, 3),
            "layer": self.layer,
            "size": self.size,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class BuildResult:
    """The image (its new layers are unnamed blobs in the store: name it), each step as
    it went, and ``cache_records``: the step records this build used (step key -> its
    layer and diff_id, or none), what a cache export carries to another runner."""

    image: Image
    steps: tuple[StepReport, ...]
    warnings: tuple[str, ...] = ()
    cache_records: Mapping[str, CacheRecord] = field(default_factory=dict)
