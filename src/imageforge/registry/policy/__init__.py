"""Gates checked on push, pull and delete: the ``Gate`` protocol (``check(image, ctx) ->
Decision``), the ``AllOf``/``AnyOf`` combinators, and ``Gates``, where a registry
registers each gate for the actions it decides on. Immutable tags are one such gate
(``ImmutableTags``, registered by every registry); others (vuln, sign, ...) are
injected from outside the registry package. The projects' pull policies are gates
too: ``VulnerabilityGate`` (prevent_vulnerable over stored scan results) and
``SignedGate`` (signatures, attestations, root), each behind ``AdminBypass``."""

from imageforge.registry.policy._bypass import BYPASS_HEADER, AdminBypass
from imageforge.registry.policy._gate import (
    ACTIONS,
    TARGETS,
    AllOf,
    AnyOf,
    Decision,
    Gate,
    GateContext,
    RegistryView,
)
from imageforge.registry.policy._gates import Gates
from imageforge.registry.policy._immutable import ImmutableTags
from imageforge.registry.policy._signed import SIGNING_TOOLS, SignatureVerifier, SignedGate
from imageforge.registry.policy._vulnerable import VulnerabilityGate

__all__ = [
    "ACTIONS",
    "BYPASS_HEADER",
    "SIGNING_TOOLS",
    "AdminBypass",
    "SignatureVerifier",
    "SignedGate",
    "TARGETS",
    "AllOf",
    "AnyOf",
    "Decision",
    "Gate",
    "GateContext",
    "Gates",
    "ImmutableTags",
    "RegistryView",
    "VulnerabilityGate",
]
