"""``[scan.secrets]``, ``[scan.misconfig]`` and ``[scan.license]`` of the policy file:
what the secret, image-configuration and licence scanners read from it.

```toml
[scan.secrets]
config = "trivy-secret.yaml"          # trivy's rule file, read as well (relative to here)
disable-rules = ["jwt-token"]
disable-allow-rules = ["examples"]    # built-in allow rules to switch off
max-file-size = "128MiB"

[[scan.secrets.allow]]                # what is not a finding (every key given must hold)
id = "fixtures"
path = '^srv/app/fixtures/'           # a file's path in the image, no leading /
regex = 'sk_test_'                    # the secret value
rules = ["stripe-secret-token"]       # only for these rules (default: all)

[[scan.secrets.rules]]                # an added detection
id = "acme-token"
regex = 'acme_[a-z0-9]{32}'           # Python or Go (RE2) syntax; a group named
keywords = ["acme_"]                  #   "secret" is the value, else the whole match
severity = "HIGH"
title = "Acme API token"

[scan.misconfig]
disable = ["IM701"]
severity = { IM502 = "MEDIUM" }
base-layers = 1                       # layers of the base image (setuid/setgid check)

[scan.license]
allow = ["MIT", "Apache-2.0"]         # acceptable whatever their category
deny = ["AGPL-3.0-only"]              # a finding that fails the scan
fail-on = ["forbidden", "restricted"] # categories that fail the scan (default: forbidden)
categories = { notice = ["LicenseRef-acme"] }   # reclassify
```

Only types and shapes are checked here; each scanner compiles the expressions and
says which rule a bad one belongs to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from imageforge.errors import InvalidArgument, Location

__all__ = [
    "LICENSE_CATEGORIES",
    "LicensePolicy",
    "MisconfigPolicy",
    "SecretAllowSpec",
    "SecretPolicy",
    "SecretRuleSpec",
    "license_policy_from",
    "misconfig_policy_from",
    "secret_policy_from",
]

LICENSE_CATEGORIES: Final = (
    "forbidden",
    "restricted",
    "reciprocal",
    "notice",
    "permissive",
    "unencumbered",
    "unknown",
)
"""The licence categories (Google's licence classifier's, as trivy uses them), most
restrictive first."""

_SCAN_SEVERITIES: Final = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


@dataclass(frozen=True)
class SecretRuleSpec:
    """A custom secret rule as written (see the module docstring)."""

    id: str
    regex: str
    keywords: tuple[str, ...] = ()
    severity: str = "HIGH"
    category: str = "Custom"
    title: str = ""
    path: str | None = None
    secret_group: str = "secret"


@dataclass(frozen=True)
class SecretAllowSpec:
    """An allow rule as written: every condition given must hold."""

    id: str
    description: str = ""
    path: str | None = None
    regex: str | None = None
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretPolicy:
    """``[scan.secrets]``; ``config`` is the trivy-secret.yaml path, already made
    absolute (relative to the policy file); ``source`` the policy file."""

    config: str | None = None
    enable_builtin_rules: tuple[str, ...] | None = None
    disable_rules: tuple[str, ...] = ()
    disable_allow_rules: tuple[str, ...] = ()
    allow: tuple[SecretAllowSpec, ...] = ()
    rules: tuple[SecretRuleSpec, ...] = ()
    max_file_size: int | str | None = None
    source: str | None = None


@dataclass(frozen=True)
class MisconfigPolicy:
    """``[scan.misconfig]``: checks switched off (ids or prefixes), severities changed,
    and how many layers the base image has (None: the scanner works it out)."""

    disable: tuple[str, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()
    base_layers: int | None = None


@dataclass(frozen=True)
class LicensePolicy:
    """``[scan.license]``: licences (SPDX ids) always acceptable and always denied, the
    categories that fail a scan, licences moved to another category, and packages
    (names or purls) whose licences are not checked."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    fail_on: tuple[str, ...] = ("forbidden",)
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignore_packages: tuple[str, ...] = ()
    source: str | None = field(default=None, compare=False)


def _loc(source: str | None) -> Location | None:
    return Location(source) if source else None


def _table(data: Any, where: str, source: str | None) -> Mapping[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"[{where}] must be a table", location=_loc(source))
    return data


def _keys(
    table: Mapping[str, Any], allowed: tuple[str, ...], where: str, source: str | None
) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        raise InvalidArgument(
            f"{where}: unknown key {extra[0]}",
            location=_loc(source),
            hint="keys: " + ", ".join(allowed),
        )


def _strings(value: Any, where: str, source: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidArgument(f"{where} must be a list of strings", location=_loc(source))
    return tuple(value)


def _string(value: Any, where: str, source: str | None, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise InvalidArgument(f"{where} is required", location=_loc(source))
        return None
    if not isinstance(value, str) or not value:
        raise InvalidArgument(f"{where} must be a non-empty string", location=_loc(source))
    return value


def _severity(value: Any, where: str, source: str | None, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value.upper() not in _SCAN_SEVERITIES:
        raise InvalidArgument(
            f"{where}: unknown severity {value!r}",
            location=_loc(source),
            hint="one of " + ", ".join(_SCAN_SEVERITIES),
        )
    return value.upper()


def _size(value: Any, where: str, source: str | None) -> int | str:
    # parsed by the scanner with analyze.parse_size, the one reader of sizes
    if isinstance(value, bool) or not isinstance(value, int | str) or value in ("", 0):
        raise InvalidArgument(
            f'{where} must be a size such as 134217728 or "128MiB", not {value!r}',
            location=_loc(source),
        )
    return value


def _list_of_tables(value: Any, where: str, source: str | None) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidArgument(
            f"{where} must be an array of tables ([[{where}]])", location=_loc(source)
        )
    return list(value)


def _secret_rule(item: Mapping[str, Any], n: int, source: str | None) -> SecretRuleSpec:
    where = f"scan.secrets.rules.{n}"
    _keys(
        item,
        ("id", "regex", "keywords", "severity", "category", "title", "path", "secret-group"),
        where,
        source,
    )
    rid = _string(item.get("id"), f"{where}.id", source, required=True)
    regex = _string(item.get("regex"), f"{where}.regex", source, required=True)
    assert rid is not None and regex is not None
    return SecretRuleSpec(
        id=rid,
        regex=regex,
        keywords=_strings(item.get("keywords"), f"{where}.keywords", source),
        severity=_severity(item.get("severity"), f"{where}.severity", source, "HIGH"),
        category=_string(item.get("category"), f"{where}.category", source) or "Custom",
        title=_string(item.get("title"), f"{where}.title", source) or rid,
        path=_string(item.get("path"), f"{where}.path", source),
        secret_group=_string(item.get("secret-group"), f"{where}.secret-group", source) or "secret",
    )


def _secret_allow(item: Mapping[str, Any], n: int, source: str | None) -> SecretAllowSpec:
    where = f"scan.secrets.allow.{n}"
    _keys(item, ("id", "description", "path", "regex", "rules"), where, source)
    path = _string(item.get("path"), f"{where}.path", source)
    regex = _string(item.get("regex"), f"{where}.regex", source)
    rules = _strings(item.get("rules"), f"{where}.rules", source)
    if path is None and regex is None and not rules:
        raise InvalidArgument(
            f"{where} allows everything",
            location=_loc(source),
            hint="give a path, a regex or the rules it is for",
        )
    return SecretAllowSpec(
        id=_string(item.get("id"), f"{where}.id", source) or f"allow-{n}",
        description=_string(item.get("description"), f"{where}.description", source) or "",
        path=path,
        regex=regex,
        rules=rules,
    )


def secret_policy_from(data: Any, source: str | None) -> SecretPolicy:
    """Validate and type ``[scan.secrets]``."""
    table = _table(data, "scan.secrets", source)
    _keys(
        table,
        (
            "config",
            "enable-builtin-rules",
            "disable-rules",
            "disable-allow-rules",
            "allow",
            "rules",
            "max-file-size",
        ),
        "scan.secrets",
        source,
    )
    config = _string(table.get("config"), "scan.secrets.config", source)
    if config is not None and source is not None:
        config = str((Path(source).parent / config).resolve())
    enable = table.get("enable-builtin-rules")
    rules = [
        _secret_rule(r, n, source)
        for n, r in enumerate(_list_of_tables(table.get("rules"), "scan.secrets.rules", source))
    ]
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InvalidArgument(f"scan.secrets.rules: id {dup} is used twice", location=_loc(source))
    return SecretPolicy(
        config=config,
        enable_builtin_rules=None
        if enable is None
        else _strings(enable, "scan.secrets.enable-builtin-rules", source),
        disable_rules=_strings(table.get("disable-rules"), "scan.secrets.disable-rules", source),
        disable_allow_rules=_strings(
            table.get("disable-allow-rules"), "scan.secrets.disable-allow-rules", source
        ),
        allow=tuple(
            _secret_allow(a, n, source)
            for n, a in enumerate(_list_of_tables(table.get("allow"), "scan.secrets.allow", source))
        ),
        rules=tuple(rules),
        max_file_size=None
        if table.get("max-file-size") is None
        else _size(table["max-file-size"], "scan.secrets.max-file-size", source),
        source=source,
    )


def misconfig_policy_from(data: Any, source: str | None) -> MisconfigPolicy:
    """Validate and type ``[scan.misconfig]``."""
    table = _table(data, "scan.misconfig", source)
    _keys(table, ("disable", "severity", "base-layers"), "scan.misconfig", source)
    severity = table.get("severity") or {}
    if not isinstance(severity, Mapping):
        raise InvalidArgument("scan.misconfig.severity must be a table", location=_loc(source))
    base = table.get("base-layers")
    if base is not None and (not isinstance(base, int) or isinstance(base, bool) or base < 0):
        raise InvalidArgument(
            "scan.misconfig.base-layers must be a whole number", location=_loc(source)
        )
    return MisconfigPolicy(
        disable=_strings(table.get("disable"), "scan.misconfig.disable", source),
        severity=tuple(
            sorted(
                (str(k), _severity(v, f"scan.misconfig.severity.{k}", source, "UNKNOWN"))
                for k, v in severity.items()
            )
        ),
        base_layers=base,
    )


def license_policy_from(data: Any, source: str | None) -> LicensePolicy:
    """Validate and type ``[scan.license]``."""
    table = _table(data, "scan.license", source)
    _keys(
        table, ("allow", "deny", "fail-on", "categories", "ignore-packages"), "scan.license", source
    )
    fail_on = table.get("fail-on")
    fails = (
        ("forbidden", "restricted")
        if fail_on is None
        else _strings(fail_on, "scan.license.fail-on", source)
    )
    for name in fails:
        if name not in LICENSE_CATEGORIES:
            raise InvalidArgument(
                f"scan.license.fail-on: unknown category {name!r}",
                location=_loc(source),
                hint="one of " + ", ".join(LICENSE_CATEGORIES),
            )
    categories = table.get("categories") or {}
    if not isinstance(categories, Mapping):
        raise InvalidArgument("scan.license.categories must be a table", location=_loc(source))
    moved: list[tuple[str, tuple[str, ...]]] = []
    for name, ids in categories.items():
        if name not in LICENSE_CATEGORIES:
            raise InvalidArgument(
                f"scan.license.categories: unknown category {name!r}",
                location=_loc(source),
                hint="one of " + ", ".join(LICENSE_CATEGORIES),
            )
        moved.append((name, _strings(ids, f"scan.license.categories.{name}", source)))
    return LicensePolicy(
        allow=_strings(table.get("allow"), "scan.license.allow", source),
        deny=_strings(table.get("deny"), "scan.license.deny", source),
        fail_on=fails,
        categories=tuple(moved),
        ignore_packages=_strings(
            table.get("ignore-packages"), "scan.license.ignore-packages", source
        ),
        source=source,
    )
