"""The daemonless builder: Dockerfile -> plan -> image, each RUN in a real OCI runtime
over an overlay snapshot, each filesystem change turned into a layer by the Differ.

:class:`Builder` runs one build (:class:`BuildOptions`) and returns a
:class:`BuildResult` whose ``image`` is an :class:`oci.Image` with its new layers in the
store; ``FROM`` goes through an injected :data:`BaseResolver` (the builder never reads
registries or transports itself). A build is planned first (:func:`plan_build`, pure:
stages, ``--target``, ARG scoping, ONBUILD, cache keys), then carried out by one
execution that dispatches each instruction by its kind. The result carries the cache
records the build used; exporting and importing a build cache (``--cache-to`` /
``--cache-from``) is ``imageforge.pipeline``'s, through the transports.
``BuildOptions(isolation="none")`` builds where no container can be made (Kaniko's
way): one plain root directory (:class:`RootSnapshotter`, :class:`RootDiffer`), each RUN
chrooted into it (``runtime.ChrootRuntime``).
:class:`BuildCache` is the store's record of steps (``<store>/build-cache/``).
:func:`context_from_stream` unpacks a context given as a tar stream (``build -``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from imageforge._lazy import lazy_names

if TYPE_CHECKING:
    from imageforge.builder._builder import Builder
    from imageforge.builder._builder_api import build
    from imageforge.builder._cache import BuildCache
    from imageforge.builder._isolation_none import ISOLATIONS
    from imageforge.builder._model import (
        BaseResolver,
        BuildOptions,
        BuildResult,
        CacheRecord,
        LayerFormat,
        StepReport,
    )
    from imageforge.builder._network import ENTITLEMENTS, step_network
    from imageforge.builder._plan import BuildPlan, PlanOptions, plan_build
    from imageforge.builder._rootdir import RootDiffer, RootSnapshotter
    from imageforge.builder._stdin_context import context_from_stream

__all__ = [
    "context_from_stream",
    "BaseResolver",
    "BuildCache",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "Builder",
    "CacheRecord",
    "ENTITLEMENTS",
    "ISOLATIONS",
    "LayerFormat",
    "PlanOptions",
    "RootDiffer",
    "RootSnapshotter",
    "StepReport",
    "build",
    "plan_build",
    "step_network",
]

_WHERE = {
    "Builder": "_builder",
    "build": "_builder_api",
    "BuildCache": "_cache",
    "ISOLATIONS": "_isolation_none",
    "BaseResolver": "_model",
    "BuildOptions": "_model",
    "BuildResult": "_model",
    "CacheRecord": "_model",
    "LayerFormat": "_model",
    "StepReport": "_model",
    "ENTITLEMENTS": "_network",
    "step_network": "_network",
    "BuildPlan": "_plan",
    "PlanOptions": "_plan",
    "plan_build": "_plan",
    "RootDiffer": "_rootdir",
    "RootSnapshotter": "_rootdir",
    "context_from_stream": "_stdin_context",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
