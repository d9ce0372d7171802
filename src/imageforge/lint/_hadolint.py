"""hadolint's rule ids in imageforge's terms: the DL -> IF table of
docs/hadolint-mapping.md, so ``# hadolint ignore=`` comments and ``.hadolint.yaml``
act on the IF rules that report the same problem."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DL_TO_IF", "to_if_ids"]

DL_TO_IF: dict[str, tuple[str, ...]] = {
    "DL3000": ("IF703",),
    "DL3003": ("IF704",),
    "DL3006": ("IF101",),
    "DL3007": ("IF101",),
    "DL3008": ("IF309",),
    "DL3009": ("IF205",),
    "DL3011": ("IF708",),
    "DL3013": ("IF305",),
    "DL3014": ("IF705",),
    "DL3015": ("IF206",),
    "DL3016": ("IF301",),
    "DL3018": ("IF309",),
    "DL3019": ("IF208",),
    "DL3020": ("IF210",),
    "DL3023": ("IF709",),
    "DL3025": ("IF707",),
    "DL3026": ("IF106",),
    "DL3033": ("IF309",),
    "DL3042": ("IF207",),
    "DL3046": ("IF706",),
    "DL3059": ("IF209",),
    "DL4000": ("IF711",),
    "DL4003": ("IF701",),
    "DL4004": ("IF702",),
    "DL4006": ("IF710",),
}


def to_if_ids(ids: Iterable[str]) -> set[str]:
    """The IF ids that ``ids`` (DL, SC or IF ids, any case) stand for; an IF or SC id
    stands for itself, a DL id without a mapping for nothing."""
    out: set[str] = set()
    for raw in ids:
        rid = raw.strip().upper()
        if rid.startswith("DL"):
            out.update(DL_TO_IF.get(rid, ()))
        elif rid:
            out.add(rid)
    return out
