"""Suppressions, from the files other scanners and teams already keep, as one kind of
rule (:class:`IgnoreRule`) applied by :func:`apply_suppressions`.

- ``.trivyignore``: one id per line, ``#`` comments, an optional ``exp:YYYY-MM-DD``.
- ``.trivyignore.yaml``: ``vulnerabilities:`` entries with ``id``, ``paths``, ``purls``,
  ``statement`` and ``expired_at``.
- ``.grype.yaml``: ``ignore:`` rules with ``vulnerability``, ``fix-state``
  (``fixed``, ``not-fixed``, ``wont-fix``, ``unknown``), ``package`` (``name``,
  ``version``, ``type``, ``location``, ``upstream-name``), ``reason``.
- ``[scan.ignore]`` of ``imageforge.toml`` (see :mod:`imageforge.policy`): a reason
  always, an expiry date and packages optionally.
- VEX documents (:mod:`._vex`): ``not_affected`` statements with their justification.

A rule matches a finding when its id is the finding's id or one of its aliases and each
narrowing it states holds. An expired rule suppresses nothing and gives one warning."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from packageurl import PackageURL

from imageforge.errors import InvalidArgument, Location, NotFound
from imageforge.policy import ScanPolicy
from imageforge.vuln._match import Finding

__all__ = [
    "IgnoreRule",
    "SuppressionResult",
    "apply_suppressions",
    "load_grype_ignores",
    "load_ignore_file",
    "load_trivyignore",
    "load_trivyignore_yaml",
    "rules_from_policy",
]


@dataclass(frozen=True)
class IgnoreRule:
    id: str | None  # None: any vulnerability (a grype rule on a package alone)
    origin: str  # file:line, or "imageforge.toml [scan.ignore]"
    reason: str = ""
    expires: dt.date | None = None
    packages: tuple[str, ...] = ()  # names or purls
    paths: tuple[str, ...] = ()  # evidence paths (globs), trivy's `paths`
    fix_state: str | None = None  # grype: fixed, not-fixed, wont-fix, unknown
    package_version: str | None = None
    package_type: str | None = None
    upstream_name: str | None = None
    vex_status: str | None = None
    justification: str | None = None


@dataclass
class SuppressionResult:
    kept: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)  # finding.suppressed says by what
    warnings: list[str] = field(default_factory=list)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"cannot read {path}: {exc}") from None


def _date(value: Any, where: Location) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidArgument(
            f"not a date: {value!r}", location=where, hint="write YYYY-MM-DD"
        ) from None


_EXP = re.compile(r"\bexp:(\S+)")


def load_trivyignore(path: Path) -> list[IgnoreRule]:
    rules = []
    for n, raw in enumerate(_read(path).splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = Location(str(path), n)
        m = _EXP.search(line)
        expires = _date(m.group(1), where) if m else None
        vid = line.split()[0]
        comment = raw.split("#", 1)[1].strip() if "#" in raw else ""
        rules.append(IgnoreRule(vid, str(where), comment, expires))
    return rules


def _yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(_read(path)) or {}
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{path} is not valid YAML: {exc}") from None


def _list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def load_trivyignore_yaml(path: Path) -> list[IgnoreRule]:
    doc = _yaml(path)
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: expected a mapping with `vulnerabilities:`")
    rules = []
    for n, entry in enumerate(doc.get("vulnerabilities") or (), 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise InvalidArgument(f"{path}: vulnerabilities entry {n} has no id")
        where = Location(str(path))
        rules.append(
            IgnoreRule(
                entry["id"],
                f"{path} (vulnerabilities[{n - 1}])",
                str(entry.get("statement") or ""),
                _date(entry.get("expired_at"), where),
                _list(entry.get("purls")),
                _list(entry.get("paths")),
            )
        )
    return rules


def load_grype_ignores(path: Path) -> list[IgnoreRule]:
    doc = _yaml(path)
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path}: expected a mapping with `ignore:`")
    rules = []
    for n, entry in enumerate(doc.get("ignore") or (), 1):
        if not isinstance(entry, dict):
            raise InvalidArgument(f"{path}: ignore rule {n} is not a mapping")
        package = entry.get("package") or {}
        if not isinstance(package, dict):
            raise InvalidArgument(f"{path}: ignore rule {n}: package is not a mapping")
        vid = entry.get("vulnerability")
        if vid is None and not package and not entry.get("fix-state"):
            raise InvalidArgument(
                f"{path}: ignore rule {n} matches everything "
                "(no vulnerability, package or fix-state)"
            )
        rules.append(
            IgnoreRule(
                str(vid) if vid else None,
                f"{path} (ignore[{n - 1}])",
                str(entry.get("reason") or ""),
                None,
                _list(package.get("name")),
                _list(package.get("location")),
                entry.get("fix-state"),
                package.get("version"),
                package.get("type"),
                package.get("upstream-name"),
                entry.get("vex-status"),
                entry.get("vex-justification"),
            )
        )
    return rules


def load_ignore_file(path: Path) -> list[IgnoreRule]:
    """By name: ``.grype.yaml``/``grype.yaml``, a ``.yaml``/``.yml`` trivy ignore file,
    else ``.trivyignore`` lines."""
    name = path.name
    if "grype" in name:
        return load_grype_ignores(path)
    if name.endswith((".yaml", ".yml")):
        return load_trivyignore_yaml(path)
    return load_trivyignore(path)


def rules_from_policy(policy: ScanPolicy, source: str | None) -> list[IgnoreRule]:
    origin = f"{source or 'imageforge.toml'} [scan.ignore]"
    return [IgnoreRule(i.id, origin, i.reason, i.expires, i.packages) for i in policy.ignore]


def _purl_matches(rule_purl: str, package_purl: str) -> bool:
    try:
        want, have = PackageURL.from_string(rule_purl), PackageURL.from_string(package_purl)
    except ValueError:
        return rule_purl == package_purl
    if (want.type, want.namespace, want.name) != (have.type, have.namespace, have.name):
        return False
    if want.version and want.version != have.version:
        return False
    return all((have.qualifiers or {}).get(k) == v for k, v in (want.qualifiers or {}).items())


def _package_matches(rule: IgnoreRule, finding: Finding) -> bool:
    pkg = finding.package
    if rule.packages:
        ok = False
        for want in rule.packages:
            if want.startswith("pkg:"):
                ok = ok or _purl_matches(want, pkg.purl)
            else:
                ok = (
                    ok
                    or want in (pkg.name, finding.query.name)
                    or fnmatch.fnmatchcase(pkg.name, want)
                )
        if not ok:
            return False
    if rule.package_version and rule.package_version != pkg.version:
        return False
    if rule.package_type and rule.package_type != pkg.type:
        return False
    if rule.upstream_name and rule.upstream_name != (pkg.source_name or pkg.name):
        return False
    if rule.paths:
        paths = ["/" + e.path.strip("/") for e in pkg.evidence]
        if not any(
            fnmatch.fnmatchcase(p, "/" + g.strip("/")) or p.startswith("/" + g.strip("/") + "/")
            for g in rule.paths
            for p in paths
        ):
            return False
    if rule.fix_state:
        state = {"fixed": "fixed", "will_not_fix": "wont-fix"}.get(finding.status, "not-fixed")
        if rule.fix_state != state and not (
            rule.fix_state == "unknown" and finding.status == "affected"
        ):
            return False
    return True


def _id_matches(rule: IgnoreRule, finding: Finding) -> bool:
    if rule.id is None:
        return True
    return rule.id == finding.id or rule.id in finding.aliases


def apply_suppressions(
    findings: Sequence[Finding], rules: Iterable[IgnoreRule], today: dt.date | None = None
) -> SuppressionResult:
    """Split ``findings`` into kept and suppressed; each suppressed finding carries the
    rule that hid it (``finding.suppressed``)."""
    today = today or dt.date.today()
    result = SuppressionResult()
    active = []
    for rule in rules:
        if rule.expires is not None and rule.expires <= today:
            result.warnings.append(
                f"{rule.origin}: the suppression of {rule.id or 'its packages'} expired on "
                f"{rule.expires.isoformat()} and no longer applies"
                + (f" (reason was: {rule.reason})" if rule.reason else "")
            )
            continue
        active.append(rule)
    for finding in findings:
        rule_hit = next(
            (r for r in active if _id_matches(r, finding) and _package_matches(r, finding)), None
        )
        if rule_hit is None:
            result.kept.append(finding)
        else:
            result.suppressed.append(replace(finding, suppressed=rule_hit))
    return result
