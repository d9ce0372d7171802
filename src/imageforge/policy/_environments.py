"""``[environments.NAME]`` of the policy file: where an image lives on its way to
production, and the gates it must pass to enter each place.

```toml
[environments.dev]
registry = "registry.dev.example:5000"
project = "team"                  # images are REGISTRY/PROJECT/NAME[:TAG]
lint-threshold = "error"

[environments.prod]
registry = "registry.example"
project = "team"
severity = ["CRITICAL", "HIGH"]   # no finding of these may remain
min-cvss = 7.0
allowlist = ["CVE-2023-32681"]
signatures = ["keys/release.pub"] # each key must verify a signature
attestations = ["slsaprovenance1"]
trusted-builder = "https://imageforge.dev/builder"
sbom = true
max-size = "200MB"
lowest-efficiency = 0.9
non-root = true
```

The environments are in the order the file lists them: an image is shipped into the
first and promoted along the others. Key files are relative to the policy file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageforge.errors import InvalidArgument, Location

__all__ = ["ENVIRONMENT_KEYS", "ENVIRONMENTS_SCHEMA", "EnvironmentPolicy", "environments_from"]

_SEVERITIES = ["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
_SIZE_PATTERN = r"^\s*[0-9][0-9,]*(\.[0-9]*)?\s*([kKmMgGtTpPeE][iI]?)?[bB]?\s*$"
_NAME = "^[a-z][a-z0-9_-]*$"

_ENVIRONMENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["registry"],
    "properties": {
        "registry": {"type": "string", "pattern": r"^[A-Za-z0-9.-]+(:[0-9]+)?$"},
        "project": {"type": "string", "pattern": r"^[a-z0-9]+([._/-][a-z0-9]+)*$"},
        "lint-threshold": {"enum": ["error", "warning", "info", "style", "none"]},
        "severity": {"type": "array", "items": {"enum": _SEVERITIES}, "minItems": 1},
        "min-cvss": {"type": "number", "minimum": 0, "maximum": 10},
        "allowlist": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "ignore-unfixed": {"type": "boolean"},
        "signatures": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "attestations": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "trusted-builder": {"type": "string", "minLength": 1},
        "sbom": {"type": "boolean"},
        "max-size": {
            "anyOf": [
                {"type": "integer", "minimum": 1},
                {"type": "string", "pattern": _SIZE_PATTERN},
            ]
        },
        "lowest-efficiency": {"type": "number", "minimum": 0, "maximum": 1},
        "non-root": {"type": "boolean"},
    },
}
ENVIRONMENT_KEYS = tuple(_ENVIRONMENT["properties"])

ENVIRONMENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "propertyNames": {"pattern": _NAME},
    "additionalProperties": _ENVIRONMENT,
}


@dataclass(frozen=True)
class EnvironmentPolicy:
    """One environment: where its images are (``registry``/``project``) and the gates an
    image must pass to enter it. ``None`` and empty tuples are gates not set.

    ``lint_threshold``: the lowest lint severity that fails (``ship`` only: lint reads
    the Dockerfile); ``severity``/``min_cvss``/``allowlist``/``ignore_unfixed``: which
    vulnerability findings fail; ``signatures``: public key files, each must verify a
    signature; ``attestations``: predicate types (short names or URIs) that must be
    attested, verified with those keys; ``trusted_builder``: the provenance's
    ``builder.id``; ``sbom``: an SBOM attestation is required; ``max_size`` (bytes, or a
    size such as ``200MB``), ``lowest_efficiency`` (0..1) and ``non_root``."""

    name: str
    registry: str
    project: str = ""
    lint_threshold: str | None = None
    severity: tuple[str, ...] = ()
    min_cvss: float | None = None
    allowlist: tuple[str, ...] = ()
    ignore_unfixed: bool = False
    signatures: tuple[Path, ...] = ()
    attestations: tuple[str, ...] = ()
    trusted_builder: str | None = None
    sbom: bool = False
    max_size: int | str | None = None
    lowest_efficiency: float | None = None
    non_root: bool = False

    def repository(self, name: str) -> str:
        """The repository ``name`` (``app``, ``app:1.0``) has here: ``REGISTRY/PROJECT/NAME``."""
        return "/".join(p for p in (self.registry, self.project, name) if p)


def environments_from(data: Mapping[str, Any], source: str | None) -> tuple[EnvironmentPolicy, ...]:
    """Type an ``[environments]`` table the schema has validated, in file order; key
    files relative to the policy file's directory."""
    base = Path(source).parent if source else Path.cwd()
    out: list[EnvironmentPolicy] = []
    for name, env in data.items():
        needs_key = [k for k in ("attestations", "trusted-builder", "sbom") if env.get(k)]
        if needs_key and not env.get("signatures"):
            raise InvalidArgument(
                f"invalid policy setting environments.{name}.{needs_key[0]}: "
                "attestations are verified with the environment's keys, and it has none",
                location=Location(source) if source else None,
                hint=f'add signatures = ["cosign.pub"] to [environments.{name}]',
            )
        cvss = env.get("min-cvss")
        out.append(
            EnvironmentPolicy(
                name=name,
                registry=env["registry"],
                project=env.get("project", ""),
                lint_threshold=env.get("lint-threshold"),
                severity=tuple(env.get("severity", ())),
                min_cvss=float(cvss) if cvss is not None else None,
                allowlist=tuple(env.get("allowlist", ())),
                ignore_unfixed=bool(env.get("ignore-unfixed", False)),
                signatures=tuple(base / k for k in env.get("signatures", ())),
                attestations=tuple(env.get("attestations", ())),
                trusted_builder=env.get("trusted-builder"),
                sbom=bool(env.get("sbom", False)),
                max_size=env.get("max-size"),
                lowest_efficiency=env.get("lowest-efficiency"),
                non_root=bool(env.get("non-root", False)),
            )
        )
    return tuple(out)
