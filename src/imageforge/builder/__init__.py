"""The daemonless builder: Dockerfile -> image, each RUN in a real OCI runtime over an
overlay snapshot, each filesystem change turned into a layer by the Differ.

:class:`Builder` runs one build (:class:`BuildOptions`) and returns a
:class:`BuildResult` whose ``image`` is an :class:`oci.Image` with its new layers in the
store; ``FROM`` goes through an injected :data:`BaseResolver` (the builder never reads
registries or transports itself). Part 1: single-stage builds.
"""

from imageforge.builder._builder_api import build
from imageforge.builder._executor import Builder
from imageforge.builder._model import BaseResolver, BuildOptions, BuildResult, StepReport
from imageforge.builder._network import ENTITLEMENTS, step_network

__all__ = [
    "BaseResolver",
    "BuildOptions",
    "BuildResult",
    "Builder",
    "ENTITLEMENTS",
    "StepReport",
    "build",
    "step_network",
]
