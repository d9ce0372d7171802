"""hadolint's rule ids in imageforge's terms: the DL -> IF table of
docs/hadolint-mapping.md, so ``# hadolint ignore=`` comments and ``.hadolint.yaml``
act on the IF rules that report the same problem."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from imageforge.errors import InvalidArgument, Location
from imageforge.policy import LintPolicy

__all__ = ["DL_TO_IF", "hadolint_policy", "to_if_ids"]

_SEVERITIES = ("error", "warning", "info", "style")

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
    "DL3016": ("IF310",),
    "DL3018": ("IF309",),
    "DL3019": ("IF208",),
    "DL3020": ("IF210",),
    "DL3022": ("IF105",),
    "DL3023": ("IF709",),
    "DL3025": ("IF707",),
    "DL3026": ("IF106",),
    "DL3028": ("IF309",),
    "DL3033": ("IF309",),
    "DL3041": ("IF309",),
    "DL3042": ("IF207",),
    "DL3045": ("IF714",),
    "DL3046": ("IF706",),
    "DL3049": ("IF107",),
    "DL3050": ("IF713",),
    "DL3059": ("IF712", "IF209"),
    "DL3062": ("IF311",),
    "DL3066": ("IF508",),
    "DL3067": ("IF715",),
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


def _ids(value: object, key: str, file: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"{key} must be a list of rule ids", location=Location(file))
    return [str(v) for v in value]


def hadolint_policy(path: str | Path) -> LintPolicy:
    """The lint policy a ``.hadolint.yaml`` asks for: ``ignored`` disables, ``override``
    sets severities, ``trustedRegistries``, ``failure-threshold`` (``no-fail``: never
    fail), the keys of ``label-schema`` as required labels and ``strict-labels``
    (other label keys reported by IF713). DL ids go through :data:`DL_TO_IF`."""
    import yaml  # only for a .hadolint.yaml: not at every lint's start

    p = Path(path)
    file = str(p)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidArgument(f"cannot read {p}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
        raise InvalidArgument(f"{p} is not valid YAML", location=loc) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidArgument(f"{p} must be a YAML mapping", location=Location(file))
    disable = sorted(to_if_ids(_ids(data.get("ignored"), "ignored", file)))
    severity: dict[str, str] = {}
    override = data.get("override") or {}
    if not isinstance(override, dict):
        raise InvalidArgument("override must be a mapping", location=Location(file))
    for level, ids in override.items():
        if level not in _SEVERITIES:
            raise InvalidArgument(
                f"override: unknown severity {level!r}",
                hint="one of " + ", ".join(_SEVERITIES),
                location=Location(file),
            )
        for rid in sorted(to_if_ids(_ids(ids, f"override.{level}", file))):
            severity[rid] = level
    trusted = _ids(data.get("trustedRegistries"), "trustedRegistries", file)
    threshold = data.get("failure-threshold")
    if threshold is not None and threshold not in (*_SEVERITIES, "none"):
        raise InvalidArgument(
            f"failure-threshold: unknown severity {threshold!r}", location=Location(file)
        )
    if data.get("no-fail"):
        threshold = "none"
    schema = data.get("label-schema") or {}
    if not isinstance(schema, dict):
        raise InvalidArgument("label-schema must be a mapping", location=Location(file))
    strict = data.get("strict-labels", False)
    if not isinstance(strict, bool):
        raise InvalidArgument("strict-labels must be true or false", location=Location(file))
    return LintPolicy(
        disable=tuple(disable),
        severity=tuple(sorted(severity.items())),
        trusted_registries=tuple(trusted),
        required_labels=tuple(str(k) for k in schema),
        strict_labels=strict,
        failure_threshold=threshold,
    )
