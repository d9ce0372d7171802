"""Look inside an image: what each layer adds, what is wasted, and which step wasted it.

:func:`analyze` reads every layer once (the index pass of ``layers.FsView``: headers
only, nothing unpacked) and returns an :class:`Analysis`:

- per layer (:class:`LayerReport`): size, the history command that made it, paths
  added / modified / removed, bytes it wrote that a later layer hid;
- dive's numbers (:class:`DiveNumbers`, computed as dive's own code does, quirks
  included; see ``_dive``): efficiency, wasted bytes, user-wasted percent;
- imageforge's own (:class:`Waste`): only bytes unreachable in the final filesystem are
  waste, each wasted file attributed to the step that wrote it and the one that hid it;
- the biggest files and directories of the final filesystem.

:func:`file_tree` gives a layer's or the merged image's tree with each path marked
added / modified / removed. CI thresholds (:class:`Thresholds`, :func:`load_dive_ci`,
:func:`resolve_rules`, :func:`evaluate`) use dive's rule names, values and messages;
sizes parse as dive parses them (:func:`parse_size`). :func:`layer_origins` names each
layer as the scanners report it (:class:`LayerOrigin`: number, digests, history step).
"""

from imageforge.analyze._analyze import analyze, layer_history
from imageforge.analyze._dive import DiveNumbers, DivePath, dive_numbers
from imageforge.analyze._model import (
    Analysis,
    BiggestPath,
    LayerReport,
    Waste,
    WasteByStep,
    WastedPath,
)
from imageforge.analyze._origin import LayerOrigin, layer_origins
from imageforge.analyze._sizes import format_size, parse_size
from imageforge.analyze._thresholds import (
    DEFAULT_RULES,
    Measure,
    ResolvedRule,
    RuleResult,
    RuleStatus,
    Thresholds,
    evaluate,
    load_dive_ci,
    resolve_rules,
    thresholds_from_policy,
)
from imageforge.analyze._tree import Change, TreeNode, file_tree

__all__ = [
    "DEFAULT_RULES",
    "Analysis",
    "BiggestPath",
    "Change",
    "DiveNumbers",
    "DivePath",
    "LayerOrigin",
    "LayerReport",
    "Measure",
    "ResolvedRule",
    "RuleResult",
    "RuleStatus",
    "Thresholds",
    "TreeNode",
    "Waste",
    "WasteByStep",
    "WastedPath",
    "analyze",
    "dive_numbers",
    "evaluate",
    "file_tree",
    "format_size",
    "layer_history",
    "layer_origins",
    "load_dive_ci",
    "parse_size",
    "resolve_rules",
    "thresholds_from_policy",
]
