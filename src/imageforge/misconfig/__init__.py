"""Risky configuration of a built image, from any source: runs as root or as a user
name, SSH exposed, no HEALTHCHECK, setuid/setgid files added on top of the base,
world-writable directories without the sticky bit, package manager caches left,
compilers or package managers shipped, secrets in ENV, a base image recorded without a
digest (or not at all).

:func:`check_image` reads the image's config, history and merged filesystem (headers
only, through :class:`~imageforge.layers.FsView`, or a view the caller already has) and
runs :data:`CHECKS` (:class:`Check`: id ``IMnnn`` grouped by the guide's sections as
lint's rules are, severity, why, what to do, examples); it returns a
:class:`MisconfigResult` whose ``to_json()`` gives the scan's ``misconfigurations`` list
and ``to_report()`` the findings for the shared writers (SARIF). ``[scan.misconfig]``
switches checks off and changes severities; ``[scan.ignore]`` entries naming a check id
suppress it with a reason (:meth:`MisconfigResult.suppress`). Each check has a page in
``docs/misconfig`` (:func:`write_check_docs`, ``make docs``).
"""

from imageforge.misconfig._checks import CHECKS, check
from imageforge.misconfig._docs import check_page, write_check_docs
from imageforge.misconfig._model import (
    Check,
    Hit,
    ImageFacts,
    MisconfigFinding,
    MisconfigResult,
)
from imageforge.misconfig._scan import active_checks, base_layer_count, check_image

__all__ = [
    "CHECKS",
    "Check",
    "Hit",
    "ImageFacts",
    "active_checks",
    "MisconfigFinding",
    "MisconfigResult",
    "base_layer_count",
    "check",
    "check_image",
    "check_page",
    "write_check_docs",
]
