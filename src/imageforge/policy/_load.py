"""Finding, reading and validating the policy file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imageforge.errors import InvalidArgument, Location, NotFound
from imageforge.policy._environments import (
    ENVIRONMENT_KEYS,
    ENVIRONMENTS_SCHEMA,
    environments_from,
)
from imageforge.policy._model import AnalyzePolicy, LintPolicy, Policy, RuleSpec
from imageforge.policy._scan import scan_policy_from

if TYPE_CHECKING:  # imported when a policy file is validated (~0.1 s a command need not pay)
    import jsonschema

__all__ = ["find_policy", "load_policy", "policy_from_mapping"]

_SEVERITIES = ["error", "warning", "info", "style"]
# IF ids (or prefixes such as IF3), SC ids, and the ids of a team's own rules.
_RULE_ID = {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]*$"}
_INSTRUCTIONS = [
    "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
    "HEALTHCHECK", "SHELL",
]  # fmt: skip
_CUSTOM_RULE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "instruction", "pattern", "message"],
    "properties": {
        "id": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_-]*$"},
        "instruction": {"enum": _INSTRUCTIONS + [i.lower() for i in _INSTRUCTIONS]},
        "pattern": {"type": "string", "minLength": 1},
        "message": {"type": "string", "minLength": 1},
        "severity": {"enum": _SEVERITIES},
        "hint": {"type": "string"},
    },
}

_OFF = {"enum": ["disabled", "off", "false"]}
_FRACTION = {"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, _OFF]}
_SIZE_PATTERN = r"^\s*[0-9][0-9,]*(\.[0-9]*)?\s*([kKmMgGtTpPeE][iI]?)?[bB]?\s*$"

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "lint": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enable": {"type": "array", "items": _RULE_ID},
                "disable": {"type": "array", "items": _RULE_ID},
                "severity": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_-]*$"},
                    "additionalProperties": {"enum": _SEVERITIES},
                },
                "trusted-registries": {"type": "array", "items": {"type": "string"}},
                "required-labels": {"type": "array", "items": {"type": "string"}},
                "strict-labels": {"type": "boolean"},
                "failure-threshold": {"enum": [*_SEVERITIES, "none"]},
                "rules": {"type": "array", "items": _CUSTOM_RULE},
            },
        },
        "analyze": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "lowest-efficiency": _FRACTION,
                "highest-wasted-bytes": {
                    "anyOf": [
                        {"type": "integer", "minimum": 0},
                        {"type": "string", "pattern": _SIZE_PATTERN},
                        _OFF,
                    ]
                },
                "highest-user-wasted-percent": _FRACTION,
            },
        },
        # TOML dates are not JSON values: [scan] is checked by policy._scan
        "scan": {"type": "object"},
        "environments": ENVIRONMENTS_SCHEMA,
    },
}
_HINTS = {
    "environments": "each [environments.NAME] needs registry; its keys: "
    + ", ".join(ENVIRONMENT_KEYS),
}
_DEFAULT_HINT = (
    "lint keys: enable, disable, severity, trusted-registries, "
    "required-labels, strict-labels, failure-threshold, rules; analyze keys: "
    "lowest-efficiency, highest-wasted-bytes (bytes or 20MB, 20MiB), "
    "highest-user-wasted-percent"
)


def find_policy(start: str | Path) -> Path | None:
    """The policy file that applies to ``start`` (a file or directory): the nearest
    ``imageforge.toml``, or ``pyproject.toml`` with a ``[tool.imageforge]`` table, in it
    or a parent directory."""
    here = Path(start).resolve()
    if not here.is_dir():
        here = here.parent
    for directory in (here, *here.parents):
        candidate = directory / "imageforge.toml"
        if candidate.is_file():
            return candidate
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            tool = data.get("tool")
            if isinstance(tool, dict) and "imageforge" in tool:
                return pyproject
    return None


def _toml_position(message: str, text: str) -> tuple[int, int]:
    # tomllib says where only in its message before Python 3.14.
    m = re.search(r"at line (\d+), column (\d+)", message)
    if m:
        return int(m.group(1)), int(m.group(2))
    if "end of document" in message:
        return max(len(text.splitlines()), 1), 0
    return 0, 0


def load_policy(path: str | Path) -> Policy:
    """Read ``path``: a whole ``imageforge.toml``, or the ``[tool.imageforge]`` table of
    a ``pyproject.toml`` (a pyproject without one gives the defaults)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"policy file {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read policy file {p}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(str(exc), text)
        raise InvalidArgument(
            f"policy file is not valid TOML: {exc}",
            location=Location(str(p), line, col),
            hint="see https://toml.io for the syntax",
        ) from None
    if p.name == "pyproject.toml":
        tool = data.get("tool", {})
        section = tool.get("imageforge", {}) if isinstance(tool, dict) else {}
        return policy_from_mapping(section, source=str(p))
    return policy_from_mapping(data, source=str(p))


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _rule_specs(items: Any, source: str | None) -> list[RuleSpec]:
    out: list[RuleSpec] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        where = Location(source) if source else None
        try:
            re.compile(item["pattern"])
        except re.error as exc:
            raise InvalidArgument(
                f"lint.rules.{n} ({item['id']}): pattern is not a regular expression: {exc}",
                location=where,
            ) from None
        if item["id"] in seen:
            raise InvalidArgument(f"lint.rules: id {item['id']} is used twice", location=where)
        seen.add(item["id"])
        out.append(
            RuleSpec(
                id=item["id"],
                instruction=item["instruction"].upper(),
                pattern=item["pattern"],
                message=item["message"],
                severity=item.get("severity", "warning"),
                hint=item.get("hint", ""),
            )
        )
    return out


def policy_from_mapping(data: Mapping[str, Any], *, source: str | None = None) -> Policy:
    """Validate an already parsed policy table and type it."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(_SCHEMA)
    checked = {k: v for k, v in data.items() if k != "scan"}
    checked.update({"scan": {}} if "scan" in data and isinstance(data["scan"], Mapping) else {})
    if "scan" in data and not isinstance(data["scan"], Mapping):
        checked["scan"] = data["scan"]
    errors = sorted(validator.iter_errors(checked), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        message = f"invalid policy setting {_path(first)}: {first.message}"
        if first.validator == "additionalProperties" and isinstance(first.instance, Mapping):
            allowed = first.schema.get("properties", {}) if isinstance(first.schema, dict) else {}
            unknown = sorted(k for k in first.instance if k not in allowed)
            if unknown:
                message = (
                    f"invalid policy setting {_path(first)}.{unknown[0]}: "
                    f"unknown key ({first.message})"
                )
        raise InvalidArgument(
            message,
            location=Location(source) if source else None,
            hint=_HINTS.get(
                str(first.absolute_path[0]) if first.absolute_path else "", _DEFAULT_HINT
            ),
        )
    lint: Mapping[str, Any] = data.get("lint", {})
    analyze: Mapping[str, Any] = data.get("analyze", {})
    return Policy(
        lint=LintPolicy(
            enable=tuple(lint.get("enable", ())),
            disable=tuple(lint.get("disable", ())),
            severity=tuple(sorted(lint.get("severity", {}).items())),
            trusted_registries=tuple(lint.get("trusted-registries", ())),
            required_labels=tuple(lint.get("required-labels", ())),
            strict_labels=bool(lint.get("strict-labels", False)),
            failure_threshold=lint.get("failure-threshold"),
            rules=tuple(_rule_specs(lint.get("rules", ()), source)),
        ),
        analyze=AnalyzePolicy(
            lowest_efficiency=analyze.get("lowest-efficiency"),
            highest_wasted_bytes=analyze.get("highest-wasted-bytes"),
            highest_user_wasted_percent=analyze.get("highest-user-wasted-percent"),
        ),
        scan=scan_policy_from(data.get("scan"), source),
        environments=environments_from(data.get("environments", {}), source),
        source=source,
    )
