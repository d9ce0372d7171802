"""What a secret scan returns: findings (the secret masked, never whole), warnings about
what could not be scanned, counts, and the JSON, SARIF and text views of them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from imageforge.analyze import LayerOrigin
from imageforge.errors import Location
from imageforge.policy import ScanIgnore, applicable_ignores
from imageforge.report import (
    Finding,
    Report,
    RuleInfo,
    level_of,
    security_properties,
    security_rank,
)
from imageforge.secrets._model import SecretRule

__all__ = ["Hidden", "ScanStats", "SecretFinding", "SecretScanResult"]

TOOL: Final = "imageforge-secrets"
DOCS_URI: Final = "https://github.com/imageforge/imageforge/blob/main/docs/secrets.md#{id}"

_PLACE_NAMES: Final = {
    "env": "ENV",
    "label": "LABEL",
    "history": "the history",
    "annotation": "an annotation",
    "cmd": "ENTRYPOINT/CMD",
}


@dataclass(frozen=True)
class Hidden:
    """A later layer (or a later entry of the same layer) that hid a file: ``how`` is
    ``deleted`` or ``overwritten``. The bytes are still in the image's layers."""

    layer: LayerOrigin
    how: str
    same_layer: bool = False

    def describe(self) -> str:
        """``deleted in layer 5 by RUN rm -f /app/.env — still in the image``."""
        if self.same_layer:
            return f"{self.how} later in the same layer — still in the image"
        step = " ".join((self.layer.created_by or "").split())
        if len(step) > 80:
            step = step[:77] + "..."
        by = f" by {step}" if step else ""
        return f"{self.how} in layer {self.layer.number}{by} — still in the image"

    def to_json(self) -> dict[str, Any]:
        return {"how": self.how, "layer": self.layer.to_json(), "sameLayer": self.same_layer}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Hidden:
        return cls(LayerOrigin.from_json(data["layer"]), str(data["how"]), bool(data["sameLayer"]))


@dataclass(frozen=True)
class SecretFinding:
    """One secret. ``place`` is where (see :data:`~imageforge.secrets.PLACES`); ``path``
    the file (``/etc/app/.env`` in an image, relative in a directory) or the config
    entry (the variable's name, the label's key, ``step 3`` of the history); ``line``
    1-based in the file or value; ``match`` the line with the secret masked; ``secret``
    the value masked; ``layer`` the layer holding it (None for a directory, the config
    and annotations); ``hidden`` the later layer that deleted or overwrote it."""

    rule_id: str
    category: str
    title: str
    severity: str
    place: str
    path: str
    line: int
    match: str
    secret: str
    layer: LayerOrigin | None = None
    hidden: Hidden | None = None
    suppressed_by: ScanIgnore | None = None

    @property
    def where(self) -> str:
        if self.place == "file":
            return f"{self.path}:{self.line}" if self.line else self.path
        return f"{_PLACE_NAMES.get(self.place, self.place)} {self.path}".strip()

    def message(self) -> str:
        text = f"{self.title} in {self.where}"
        if self.layer is not None:
            text += f", added by {self.layer.describe()}"
        if self.hidden is not None:
            text += f"; {self.hidden.describe()}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "category": self.category,
            "severity": self.severity,
            "title": self.title,
            "target": self.place,
            "file": self.path,
            "line": self.line,
            "match": self.match,
            "secret": self.secret,
            "layer": None if self.layer is None else self.layer.to_json(),
            "visible": self.hidden is None,
            "hiddenBy": None if self.hidden is None else self.hidden.to_json(),
            **({"suppressedBy": self.suppressed_by.to_json()} if self.suppressed_by else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SecretFinding:
        """What :meth:`to_json` wrote (a kept scan, read back)."""
        return cls(
            rule_id=str(data["rule"]),
            category=str(data["category"]),
            title=str(data["title"]),
            severity=str(data["severity"]),
            place=str(data["target"]),
            path=str(data["file"]),
            line=int(data["line"]),
            match=str(data["match"]),
            secret=str(data["secret"]),
            layer=LayerOrigin.from_json(data["layer"]) if data.get("layer") else None,
            hidden=Hidden.from_json(data["hiddenBy"]) if data.get("hiddenBy") else None,
        )

    def to_finding(self) -> Finding:
        where = self.path if self.place == "file" else "config.json"
        return Finding(
            rule_id=self.rule_id,
            severity=level_of(self.severity),
            message=self.message(),
            location=Location(where, self.line if self.place == "file" else 0),
            snippet=self.match if self.place == "file" else None,
            hint="remove it from the image (every layer holding it, not only the last) "
            "and revoke it: anyone who pulls the image can read it",
            properties=security_properties(self.severity, category=self.category),
        )


@dataclass
class ScanStats:
    """What was read: files scanned, bytes scanned, files skipped as binary, as allowed
    by path (not read) and as too big."""

    files: int = 0
    bytes: int = 0
    binary: int = 0
    allowed: int = 0
    too_big: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "binarySkipped": self.binary,
            "allowedSkipped": self.allowed,
            "tooBigSkipped": self.too_big,
        }


@dataclass
class SecretScanResult:
    """The findings of one scan, worst first, with ``warnings`` (a file or layer that
    could not be read, named) and ``stats``; ``rules`` are the rules that ran."""

    target: str
    findings: list[SecretFinding]
    warnings: list[str] = field(default_factory=list)
    stats: ScanStats = field(default_factory=ScanStats)
    rules: Sequence[SecretRule] = ()
    suppressed: list[SecretFinding] = field(default_factory=list)

    def suppress(self, ignores: Iterable[ScanIgnore], today: dt.date | None = None) -> None:
        """Move the findings of rules an unexpired ``[scan.ignore]`` entry names into
        :attr:`suppressed` (with the entry); an expired one is a warning."""
        by_id, expired = applicable_ignores(
            ignores, {r.id for r in self.rules}, today or dt.date.today()
        )
        self.warnings.extend(expired)
        kept = []
        for f in self.findings:
            accepted = by_id.get(f.rule_id)
            if accepted is None:
                kept.append(f)
            else:
                self.suppressed.append(replace(f, suppressed_by=accepted))
        self.findings = kept

    def redact(self, values: Iterable[bytes]) -> None:
        """Mask every found secret value wherever it shows in the findings' text: a
        history step that made a layer can hold a secret (``RUN echo $TOKEN >...`` with
        the value written out), and a line can hold a second secret another rule
        found."""
        texts = sorted({v.decode("utf-8", "replace") for v in values if v}, key=len, reverse=True)
        if not texts:
            return

        def clean(text: str | None) -> str | None:
            if text is None:
                return None
            for value in texts:
                if value in text:
                    text = text.replace(value, "*" * min(len(value), 40))
            return text

        def origin(layer: LayerOrigin | None) -> LayerOrigin | None:
            if layer is None or layer.created_by is None:
                return layer
            return replace(layer, created_by=clean(layer.created_by))

        for i, f in enumerate(self.findings):
            hidden = f.hidden
            if hidden is not None:
                hidden = replace(hidden, layer=origin(hidden.layer) or hidden.layer)
            self.findings[i] = replace(
                f,
                match=clean(f.match) or "",
                path=clean(f.path) or "",
                layer=origin(f.layer),
                hidden=hidden,
            )

    def sort(self) -> None:
        self.findings.sort(
            key=lambda f: (
                -security_rank(f.severity),
                f.layer.index if f.layer else -1,
                f.place,
                f.path,
                f.line,
                f.rule_id,
            )
        )

    @classmethod
    def from_json(cls, data: dict[str, Any], rules: Sequence[SecretRule] = ()) -> SecretScanResult:
        """What :meth:`to_json` wrote, findings, warnings and counts (``rules``: the
        rules it was made with)."""
        meta = data["secretScan"]
        stats = meta["stats"]
        return cls(
            target=str(meta["target"]),
            findings=[SecretFinding.from_json(f) for f in data["secrets"]],
            warnings=[str(w) for w in meta["warnings"]],
            stats=ScanStats(
                files=int(stats["files"]),
                bytes=int(stats["bytes"]),
                binary=int(stats["binarySkipped"]),
                allowed=int(stats["allowedSkipped"]),
                too_big=int(stats["tooBigSkipped"]),
            ),
            rules=rules,
        )

    def to_json(self) -> dict[str, Any]:
        """``{"secrets": [...]}`` (the scan command puts it beside ``vulnerabilities``),
        with the warnings and counts under ``secretScan``."""
        return {
            "secrets": [f.to_json() for f in self.findings],
            "secretScan": {
                "target": self.target,
                "suppressed": [f.to_json() for f in self.suppressed],
                "warnings": list(self.warnings),
                "stats": self.stats.to_json(),
            },
        }

    def to_report(self, version: str) -> Report:
        """The findings for the shared writers (SARIF, text, GitHub annotations)."""
        used = {f.rule_id for f in self.findings}
        rules = tuple(
            RuleInfo(
                id=r.id,
                name=r.id,
                severity=level_of(r.severity),
                title=r.title,
                help=r.description or r.title,
                help_uri=DOCS_URI.format(id=r.id) if r.builtin else None,
                properties=security_properties(r.severity, category=r.category),
            )
            for r in self.rules
            if r.id in used
        )
        files = tuple(dict.fromkeys(f.path for f in self.findings if f.place == "file"))
        return Report(
            tool=TOOL,
            version=version,
            rules=rules,
            findings=tuple(f.to_finding() for f in self.findings),
            files=files,
        )
