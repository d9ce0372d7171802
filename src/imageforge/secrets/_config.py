"""The rules a scan uses: the built-in ones as ``[scan.secrets]`` of the policy file and
a trivy-secret.yaml (trivy's shape, read as trivy reads it) change them.

From either source: custom rules that add detections (``id``, ``regex``, ``keywords``,
``severity``, ``category``, ``title``, ``path``, the secret's group), allow rules
(``path``, ``regex`` over the value, for some ``rules`` or all), built-in rules and
built-in allow rules switched off, or only some built-in rules switched on. A
trivy-secret.yaml's ``exclude-block`` (regions of a file where nothing is reported) is
honoured as well. Expressions are read in Python's syntax or Go's (RE2); a bad one is
an error naming its rule and file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import yaml

from imageforge.analyze import parse_size
from imageforge.errors import InvalidArgument, Location, NotFound
from imageforge.policy import SecretAllowSpec, SecretPolicy, SecretRuleSpec
from imageforge.report import SECURITY_SEVERITIES
from imageforge.secrets._builtin import BUILTIN_ALLOW_RULES, BUILTIN_RULES
from imageforge.secrets._engine import Engine
from imageforge.secrets._model import PLACES, AllowRule, SecretRule
from imageforge.secrets._regex import compile_go, compile_path

__all__ = ["DEFAULT_MAX_FILE_SIZE", "SecretConfig", "secret_config"]

DEFAULT_MAX_FILE_SIZE: Final = 128 << 20
"""Files larger than this are not scanned (a warning names each); raise it with
``[scan.secrets] max-file-size``."""


@dataclass(frozen=True)
class SecretConfig:
    """The rules, allow rules and exclude blocks of a scan, and the largest file read."""

    rules: tuple[SecretRule, ...] = BUILTIN_RULES
    allow: tuple[AllowRule, ...] = BUILTIN_ALLOW_RULES
    exclude: tuple[re.Pattern[bytes], ...] = ()
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    def engine(self) -> Engine:
        """The compiled matcher (built once per configuration)."""
        return _engine(self)

    def fingerprint(self) -> str:
        """A digest of everything that decides what a scan finds (with imageforge's
        version, the key of a kept result)."""
        rules = [
            (
                r.id,
                r.regex.pattern,
                r.regex.flags,
                r.keywords,
                r.path.pattern if r.path else None,
                sorted(r.places),
                r.secret_group,
                r.min_entropy,
                r.placeholders,
                r.binary,
                r.before.pattern if r.before else None,
                r.severity,
                r.category,
                r.title,
                [
                    (
                        a.id,
                        a.path.pattern if a.path else None,
                        a.regex.pattern if a.regex else None,
                        sorted(a.rules),
                    )
                    for a in r.allow
                ],
                [x.pattern for x in r.exclude],
            )
            for r in self.rules
        ]
        allow = [
            (
                a.id,
                a.path.pattern if a.path else None,
                a.regex.pattern if a.regex else None,
                sorted(a.rules),
            )
            for a in self.allow
        ]
        text = repr((rules, allow, [x.pattern for x in self.exclude], self.max_file_size))
        return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=8)
def _engine(config: SecretConfig) -> Engine:
    return Engine(config.rules, config.allow, config.exclude)


@dataclass(frozen=True)
class _Source:
    """One place rules came from, parsed: the policy file's table or a YAML file."""

    origin: str
    rules: tuple[SecretRule, ...] = ()
    allow: tuple[AllowRule, ...] = ()
    exclude: tuple[re.Pattern[bytes], ...] = ()
    enable_builtin: tuple[str, ...] | None = None
    disable_rules: tuple[str, ...] = ()
    disable_allow: tuple[str, ...] = ()


def _rule(spec: SecretRuleSpec, origin: str, allow: Sequence[AllowRule] = ()) -> SecretRule:
    what = f"secret rule {spec.id}"
    regex = compile_go(spec.regex, what=what, source=origin)
    path = None if spec.path is None else compile_path(spec.path, what=what, source=origin)
    return SecretRule(
        id=spec.id,
        category=spec.category,
        title=spec.title or spec.id,
        severity=spec.severity,
        regex=regex,
        keywords=tuple(k.lower().encode() for k in spec.keywords),
        path=path,
        places=frozenset({"file"}) if path is not None else PLACES,
        secret_group=spec.secret_group,
        allow=tuple(allow),
        builtin=False,
        description=f"from {origin}",
    )


def _allow(spec: SecretAllowSpec, origin: str) -> AllowRule:
    what = f"secret allow rule {spec.id}"
    return AllowRule(
        id=spec.id,
        description=spec.description,
        path=None if spec.path is None else compile_path(spec.path, what=what, source=origin),
        regex=None if spec.regex is None else compile_go(spec.regex, what=what, source=origin),
        rules=frozenset(spec.rules),
        origin=origin,
    )


def _from_policy(policy: SecretPolicy) -> _Source:
    origin = policy.source or "imageforge.toml"
    return _Source(
        origin=origin,
        rules=tuple(_rule(r, origin) for r in policy.rules),
        allow=tuple(_allow(a, origin) for a in policy.allow),
        enable_builtin=policy.enable_builtin_rules,
        disable_rules=policy.disable_rules,
        disable_allow=policy.disable_allow_rules,
    )


# -- trivy-secret.yaml ------------------------------------------------------------------


def _fail(source: str, message: str) -> InvalidArgument:
    return InvalidArgument(
        f"{message}",
        location=Location(source),
        hint="see trivy's documentation of trivy-secret.yaml (rules, allow-rules, "
        "enable-builtin-rules, disable-rules, disable-allow-rules, exclude-block)",
    )


def _strs(value: Any, where: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, f"{where} must be a string or a list of strings")
    return tuple(value)


def _one_path(value: Any, where: str, source: str) -> str | None:
    paths = _strs(value, where, source)
    if not paths:
        return None
    return "|".join(f"(?:{p})" for p in paths) if len(paths) > 1 else paths[0]


def _trivy_allow(items: Any, where: str, source: str) -> list[AllowRule]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise _fail(source, f"{where} must be a list")
    out = []
    for n, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _fail(source, f"{where}[{n}] must be a mapping")
        aid = str(item.get("id") or f"{where}-{n}")
        desc = str(item.get("description") or "")
        path = _one_path(item.get("path"), f"{where}[{n}].path", source)
        regex = item.get("regex")
        if regex is not None and not isinstance(regex, str):
            raise _fail(source, f"{where}[{n}].regex must be a string")
        # trivy allows a file by its path and a secret by its value, each on its own
        if path is not None:
            out.append(_allow(SecretAllowSpec(aid, desc, path=path), source))
        if regex is not None:
            out.append(_allow(SecretAllowSpec(aid, desc, regex=regex), source))
    return out


def _trivy_exclude(block: Any, where: str, source: str) -> list[re.Pattern[bytes]]:
    if block is None:
        return []
    if not isinstance(block, Mapping):
        raise _fail(source, f"{where} must be a mapping with regexes")
    return [
        compile_go(r, what=f"{where} regex", source=source)
        for r in _strs(block.get("regexes"), f"{where}.regexes", source)
    ]


def _trivy_rule(item: Any, n: int, source: str) -> SecretRule:
    where = f"rules[{n}]"
    if not isinstance(item, Mapping):
        raise _fail(source, f"{where} must be a mapping")
    for key in ("id", "regex"):
        if not isinstance(item.get(key), str) or not item.get(key):
            raise _fail(source, f"{where}.{key} is required")
    severity = str(item.get("severity") or "UNKNOWN").upper()
    if severity not in SECURITY_SEVERITIES:
        raise _fail(source, f"{where} ({item['id']}): unknown severity {item.get('severity')!r}")
    spec = SecretRuleSpec(
        id=item["id"],
        regex=item["regex"],
        keywords=_strs(item.get("keywords"), f"{where}.keywords", source),
        severity=severity,
        category=str(item.get("category") or "Custom"),
        title=str(item.get("title") or item["id"]),
        path=_one_path(item.get("path"), f"{where}.path", source),
        secret_group=str(item.get("secret-group-name") or "secret"),
    )
    allow = _trivy_allow(item.get("allow-rules"), f"{where}.allow-rules", source)
    rule = _rule(spec, source, allow)
    excludes = _trivy_exclude(item.get("exclude-block"), f"{where}.exclude-block", source)
    return replace(rule, exclude=tuple(excludes)) if excludes else rule


def load_trivy_secret_config(path: str | Path) -> _Source:
    """Read a trivy-secret.yaml."""
    p = Path(path)
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"secret config {p} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read secret config {p}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise InvalidArgument(
            f"secret config is not valid YAML: {exc}", location=Location(source, line)
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise _fail(source, "a trivy-secret.yaml is a mapping at the top level")
    rules = data.get("rules") or []
    if not isinstance(rules, list):
        raise _fail(source, "rules must be a list")
    enable = data.get("enable-builtin-rules")
    return _Source(
        origin=source,
        rules=tuple(_trivy_rule(r, n, source) for n, r in enumerate(rules)),
        allow=tuple(_trivy_allow(data.get("allow-rules"), "allow-rules", source)),
        exclude=tuple(_trivy_exclude(data.get("exclude-block"), "exclude-block", source)),
        enable_builtin=None if enable is None else _strs(enable, "enable-builtin-rules", source),
        disable_rules=_strs(data.get("disable-rules"), "disable-rules", source),
        disable_allow=_strs(data.get("disable-allow-rules"), "disable-allow-rules", source),
    )


# -- putting them together ----------------------------------------------------------------


def _check_ids(rules: Iterable[SecretRule]) -> None:
    seen: dict[str, str] = {}
    for rule in rules:
        where = "built-in" if rule.builtin else rule.description.removeprefix("from ")
        if rule.id in seen:
            raise InvalidArgument(
                f"secret rule id {rule.id} is defined twice ({seen[rule.id]} and {where})",
                hint="give the custom rule another id, or disable the other one",
            )
        seen[rule.id] = where


def secret_config(
    policy: SecretPolicy | None = None, *, trivy_config: str | Path | None = None
) -> SecretConfig:
    """The configuration ``[scan.secrets]`` describes (``policy``; its ``config`` key
    names a trivy-secret.yaml) plus ``trivy_config`` (a trivy-secret.yaml given on the
    command line). Custom rules run after the built-in ones."""
    policy = policy or SecretPolicy()
    sources = [_from_policy(policy)]
    for path in (policy.config, trivy_config):
        if path is not None:
            sources.append(load_trivy_secret_config(path))
    enable: set[str] | None = None
    for src in sources:
        if src.enable_builtin is not None:
            enable = (enable or set()) | set(src.enable_builtin)
    disabled = {r for src in sources for r in src.disable_rules}
    disabled_allow = {a for src in sources for a in src.disable_allow}
    known = {r.id for r in BUILTIN_RULES} | {r.id for src in sources for r in src.rules}
    unknown = sorted((disabled | (enable or set())) - known)
    if unknown:
        raise InvalidArgument(
            f"unknown secret rule {unknown[0]} in disable-rules or enable-builtin-rules",
            hint="imageforge's rule ids are listed in docs/secrets.md",
        )
    builtin = [
        r for r in BUILTIN_RULES if r.id not in disabled and (enable is None or r.id in enable)
    ]
    custom = [r for src in sources for r in src.rules if r.id not in disabled]
    rules = (*builtin, *custom)
    _check_ids(rules)
    allow = tuple(a for a in BUILTIN_ALLOW_RULES if a.id not in disabled_allow)
    allow += tuple(a for src in sources for a in src.allow)
    size = DEFAULT_MAX_FILE_SIZE
    if policy.max_file_size is not None:
        where = Location(policy.source) if policy.source else None
        size = parse_size(policy.max_file_size, what="scan.secrets.max-file-size", location=where)
    return SecretConfig(
        rules=rules,
        allow=allow,
        exclude=tuple(p for src in sources for p in src.exclude),
        max_file_size=size,
    )
