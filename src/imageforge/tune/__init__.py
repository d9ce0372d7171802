"""``imageforge tune``: measure an image's container under a load and recommend
Kubernetes requests and limits (guide 4.2).

:func:`tune` runs the image (``runtime.run_image``: private network, published ports)
with the load beside it (:class:`CommandLoad`, any command on the host, or
:class:`HttpLoad`, the built-in generator), samples its cgroup several times a second
(``runtime.CgroupSampler``), and turns the samples into :class:`Usage` (series and
percentiles); the named strategies (:data:`STRATEGIES`: ``krr-simple``, ``vpa``, ``guide``) each
give a :class:`Recommendation`; :func:`runtime_hints` names the runtime flags a JVM, Go
or Node needs; :func:`verify` runs the load again under the recommended limits. Output:
:func:`resources_yaml`, :func:`patch_manifest` (validated with kubernetes-validate),
:func:`write_plot` (matplotlib), the report's JSON and :func:`render_text`.
"""

from imageforge.tune._load import CommandLoad, HttpLoad, LoadResult, Request
from imageforge.tune._measure import Measured, MeasureOptions, load_env, measure
from imageforge.tune._output import patch_manifest, render_text, resources_yaml
from imageforge.tune._plot import write_plot
from imageforge.tune._runtimes import RuntimeHint, detect_runtimes, runtime_hints
from imageforge.tune._series import Series, Usage, percentile, usage_of
from imageforge.tune._strategies import (
    STRATEGIES,
    DecayingHistogram,
    Recommendation,
    guide_ratio,
    krr_simple,
    oom_bump,
    recommend,
    vpa,
)
from imageforge.tune._tune import GUIDE_EXAMPLE, TuneReport, Verification, limits_for, tune, verify

__all__ = [
    "GUIDE_EXAMPLE",
    "STRATEGIES",
    "CommandLoad",
    "DecayingHistogram",
    "HttpLoad",
    "LoadResult",
    "MeasureOptions",
    "Measured",
    "Recommendation",
    "Request",
    "RuntimeHint",
    "Series",
    "TuneReport",
    "Usage",
    "Verification",
    "detect_runtimes",
    "guide_ratio",
    "krr_simple",
    "limits_for",
    "load_env",
    "measure",
    "oom_bump",
    "patch_manifest",
    "percentile",
    "recommend",
    "render_text",
    "resources_yaml",
    "runtime_hints",
    "tune",
    "usage_of",
    "verify",
    "vpa",
    "write_plot",
]
