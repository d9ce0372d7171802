"""Checks as data, what a check sees of an image, and what a scan returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from imageforge.analyze import LayerOrigin
from imageforge.errors import Location
from imageforge.layers import FsNode
from imageforge.policy import ScanIgnore, applicable_ignores
from imageforge.report import (
    Finding,
    Report,
    RuleInfo,
    level_of,
    security_properties,
    security_rank,
)

__all__ = [
    "DOCS_URI",
    "Check",
    "Hit",
    "ImageFacts",
    "MisconfigFinding",
    "MisconfigResult",
]

DOCS_URI: Final = "https://github.com/imageforge/imageforge/blob/main/docs/misconfig/{id}.md"
TOOL: Final = "imageforge-misconfig"


@dataclass(frozen=True)
class ImageFacts:
    """What every check reads: the image config's runtime part (``Env``, ``User``,
    ``ExposedPorts``, ``Healthcheck`` ...) and labels, the manifest's annotations, the
    history, each layer's origin, the merged filesystem (path -> node with the layer it
    comes from), the users of ``/etc/passwd`` (name -> uid) and how many layers belong to
    the base image."""

    runtime: Mapping[str, Any]
    annotations: Mapping[str, str]
    history: Sequence[str]
    layers: Sequence[LayerOrigin]
    nodes: Mapping[str, FsNode]
    users: Mapping[str, int]
    base_layers: int

    @property
    def labels(self) -> Mapping[str, str]:
        value = self.runtime.get("Labels")
        return value if isinstance(value, Mapping) else {}

    def origin(self, node: FsNode) -> LayerOrigin | None:
        return self.layers[node.layer] if node.layer < len(self.layers) else None


@dataclass(frozen=True)
class Hit:
    """One problem a check found: ``detail`` completes the check's message; ``target``
    is ``config`` or a path in the image; ``layer`` the layer that brought it in."""

    detail: str
    target: str = "config"
    layer: LayerOrigin | None = None


@dataclass(frozen=True)
class Check:
    """One check of a built image. ``id`` is stable (``IM`` + the hundred of the guide
    section it enforces, as lint's ``IF`` ids); ``slug`` a short name; ``why`` the
    guide's reasoning; ``hint`` what to do; ``bad``/``good`` Dockerfiles whose images
    fail and pass it (for the documentation); ``run`` the check itself."""

    id: str
    slug: str
    section: str
    severity: str
    title: str
    why: str
    hint: str
    bad: str
    good: str
    run: Callable[[ImageFacts], Iterable[Hit]] = field(compare=False, repr=False)

    def info(self, severity: str | None = None) -> RuleInfo:
        sev = severity or self.severity
        return RuleInfo(
            id=self.id,
            name=self.slug,
            severity=level_of(sev),
            title=self.title,
            help=f"{self.why} {self.hint}",
            help_uri=DOCS_URI.format(id=self.id),
            properties=security_properties(sev),
        )


@dataclass(frozen=True)
class MisconfigFinding:
    """One problem of the image's configuration or filesystem; ``suppressed_by`` is the
    ``[scan.ignore]`` entry that accepted it."""

    id: str
    slug: str
    severity: str
    title: str
    message: str
    hint: str
    target: str = "config"
    layer: LayerOrigin | None = None
    suppressed_by: ScanIgnore | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.slug,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "resolution": self.hint,
            "target": self.target,
            "layer": None if self.layer is None else self.layer.to_json(),
            "references": [DOCS_URI.format(id=self.id)],
        }
        if self.suppressed_by is not None:
            out["suppressedBy"] = self.suppressed_by.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MisconfigFinding:
        """What :meth:`to_json` wrote (a kept scan, read back)."""
        return cls(
            id=str(data["id"]),
            slug=str(data["name"]),
            severity=str(data["severity"]),
            title=str(data["title"]),
            message=str(data["message"]),
            hint=str(data["resolution"]),
            target=str(data["target"]),
            layer=LayerOrigin.from_json(data["layer"]) if data.get("layer") else None,
        )

    def to_finding(self) -> Finding:
        where = "config.json" if self.target == "config" else self.target
        return Finding(
            rule_id=self.id,
            severity=level_of(self.severity),
            message=self.message,
            location=Location(where),
            hint=self.hint,
            properties=security_properties(self.severity),
        )


@dataclass
class MisconfigResult:
    """The findings of one image, worst first; ``suppressed`` those ``[scan.ignore]``
    accepted; ``checks`` the checks that ran (with their severity)."""

    target: str
    findings: list[MisconfigFinding]
    checks: Sequence[tuple[Check, str]] = ()
    suppressed: list[MisconfigFinding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def suppress(self, ignores: Iterable[ScanIgnore], today: dt.date | None = None) -> None:
        """Move the findings whose check id an unexpired ``[scan.ignore]`` entry names
        into :attr:`suppressed`; an expired entry naming a check is a warning."""
        by_id, expired = applicable_ignores(
            ignores, {c.id for c, _ in self.checks}, today or dt.date.today()
        )
        self.warnings.extend(expired)
        kept = []
        for f in self.findings:
            accepted = by_id.get(f.id)
            if accepted is None:
                kept.append(f)
            else:
                self.suppressed.append(replace(f, suppressed_by=accepted))
        self.findings = kept

    def sort(self) -> None:
        self.findings.sort(key=lambda f: (-security_rank(f.severity), f.id, f.target))

    @classmethod
    def from_json(
        cls, data: dict[str, Any], checks: Sequence[tuple[Check, str]] = ()
    ) -> MisconfigResult:
        """What :meth:`to_json` wrote (``checks``: those that ran, with severities)."""
        meta = data["misconfigScan"]
        return cls(
            target=str(meta["target"]),
            findings=[MisconfigFinding.from_json(f) for f in data["misconfigurations"]],
            checks=checks,
            warnings=[str(w) for w in meta["warnings"]],
        )

    def to_json(self) -> dict[str, Any]:
        """``{"misconfigurations": [...]}`` beside the scan's other lists, with the
        suppressed findings and warnings under ``misconfigScan``."""
        return {
            "misconfigurations": [f.to_json() for f in self.findings],
            "misconfigScan": {
                "target": self.target,
                "suppressed": [f.to_json() for f in self.suppressed],
                "warnings": list(self.warnings),
            },
        }

    def to_report(self, version: str) -> Report:
        used = {f.id for f in self.findings}
        return Report(
            tool=TOOL,
            version=version,
            rules=tuple(c.info(sev) for c, sev in self.checks if c.id in used),
            findings=tuple(f.to_finding() for f in self.findings),
            files=(),
        )
