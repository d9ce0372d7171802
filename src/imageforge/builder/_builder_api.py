"""``build(store, options, resolver)``: the one-call form of :class:`Builder`."""

from __future__ import annotations

from imageforge.builder._builder import Builder
from imageforge.builder._model import BaseResolver, BuildOptions, BuildResult
from imageforge.progress import NULL_PROGRESS, ProgressSink
from imageforge.runtime import Runtime
from imageforge.store import Store

__all__ = ["build"]


def build(
    store: Store,
    options: BuildOptions,
    resolver: BaseResolver,
    *,
    runtime: Runtime | None = None,
    progress: ProgressSink = NULL_PROGRESS,
) -> BuildResult:
    return Builder(store, resolver, runtime=runtime, progress=progress).build(options)
