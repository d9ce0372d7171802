"""The daemonless builder: Dockerfile -> plan -> image, each RUN in a real OCI runtime
over an overlay snapshot, each filesystem change turned into a layer by the Differ.

:class:`Builder` runs one build (:class:`BuildOptions`) and returns a
:class:`BuildResult` whose ``image`` is an :class:`oci.Image` with its new layers in the
store; ``FROM`` goes through an injected :data:`BaseResolver` (the builder never reads
registries or transports itself). A build is planned first (:func:`plan_build`, pure:
stages, ``--target``, ARG scoping, ONBUILD, cache keys), then carried out by one
execution that dispatches each instruction by its kind.
"""

from imageforge.builder._builder import Builder
from imageforge.builder._builder_api import build
from imageforge.builder._model import (
    BaseResolver,
    BuildOptions,
    BuildResult,
    LayerFormat,
    StepReport,
)
from imageforge.builder._network import ENTITLEMENTS, step_network
from imageforge.builder._plan import BuildPlan, PlanOptions, plan_build

__all__ = [
    "BaseResolver",
    "BuildOptions",
    "BuildPlan",
    "BuildResult",
    "Builder",
    "ENTITLEMENTS",
    "LayerFormat",
    "PlanOptions",
    "StepReport",
    "build",
    "plan_build",
    "step_network",
]
