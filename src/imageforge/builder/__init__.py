"""The daemonless builder: Dockerfile -> image, each RUN in a real OCI runtime over an
overlay snapshot, each filesystem change turned into a layer by the Differ.

:class:`Builder` runs one build (:class:`BuildOptions`) and returns a
:class:`BuildResult` whose ``image`` is an :class:`oci.Image` with its new layers in the
store; ``FROM`` goes through an injected :data:`BaseResolver` (the builder never reads
registries or transports itself). The result carries the cache records the build used;
exporting and importing a build cache (``--cache-to``/``--cache-from``) is
``imageforge.pipeline``'s, through the transports. :class:`BuildCache` is the store's
record of steps (``<store>/build-cache/``).
"""

from imageforge.builder._builder_api import build
from imageforge.builder._cache import BuildCache
from imageforge.builder._executor import Builder
from imageforge.builder._inroot import mkdirs_in_root, resolve_in_root
from imageforge.builder._model import (
    BaseResolver,
    BuildOptions,
    BuildResult,
    CacheRecord,
    StepReport,
)
from imageforge.builder._network import ENTITLEMENTS, step_network

__all__ = [
    "BaseResolver",
    "BuildCache",
    "BuildOptions",
    "BuildResult",
    "Builder",
    "CacheRecord",
    "ENTITLEMENTS",
    "StepReport",
    "build",
    "mkdirs_in_root",
    "resolve_in_root",
    "step_network",
]
