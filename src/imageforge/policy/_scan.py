"""``[scan]`` of the policy file: the vulnerability suppressions a team keeps beside its
code, each with the reason it was accepted and, optionally, the day it stops applying.

```toml
[scan.ignore]
"CVE-2023-32681" = { reason = "no proxies are used", expires = 2027-01-31 }
"GHSA-jf85-cpcp-j695" = { reason = "defaultsDeep is never called", packages = ["lodash"] }
```

``packages`` (names or purls) narrows an entry to those packages; ``expires`` is a TOML
date (or ``YYYY-MM-DD``): on and after that day the entry no longer suppresses and the
scan warns about it.

The team's gate sits beside it, each key used when the command line does not set it:

```toml
[scan]
severity = ["CRITICAL", "HIGH"]   # trivy's --severity
min-cvss = 7.0                    # the guide's threshold
ignore-unfixed = true
exit-code = 1
```"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from imageforge.errors import InvalidArgument, Location
from imageforge.policy._scanners import (
    LicensePolicy,
    MisconfigPolicy,
    SecretPolicy,
    license_policy_from,
    misconfig_policy_from,
    secret_policy_from,
)

__all__ = ["ScanIgnore", "ScanPolicy", "applicable_ignores", "scan_policy_from"]


@dataclass(frozen=True)
class ScanIgnore:
    id: str
    reason: str
    expires: dt.date | None = None
    packages: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """What a finding it suppressed says about it (``suppressedBy``)."""
        return {
            "origin": "[scan.ignore]",
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


@dataclass(frozen=True)
class ScanPolicy:
    """``[scan]``: vulnerability suppressions (``[scan.ignore]``), the team's gate, used
    when the command line sets none: ``severity`` (``["CRITICAL", "HIGH"]`` or
    ``"CRITICAL,HIGH"``), ``min-cvss``, ``ignore-unfixed``, ``exit-code``; and the settings
    of the secret, image-configuration and licence scanners."""

    ignore: tuple[ScanIgnore, ...] = ()
    severity: tuple[str, ...] | None = None
    min_cvss: float | None = None
    ignore_unfixed: bool | None = None
    exit_code: int | None = None
    secrets: SecretPolicy = field(default_factory=SecretPolicy)
    misconfig: MisconfigPolicy = field(default_factory=MisconfigPolicy)
    license: LicensePolicy = field(default_factory=LicensePolicy)


def applicable_ignores(
    ignores: Iterable[ScanIgnore], ids: Collection[str], today: dt.date
) -> tuple[dict[str, ScanIgnore], list[str]]:
    """The entries that suppress findings identified by one of ``ids`` alone (a check id,
    a secret rule id; entries narrowed to ``packages`` are for packages), by id, and a
    warning for each that would but expired."""
    active: dict[str, ScanIgnore] = {}
    expired: list[str] = []
    for rule in ignores:
        if rule.id not in ids or rule.packages:
            continue
        if rule.expires is not None and rule.expires <= today:
            expired.append(
                f"[scan.ignore] {rule.id} expired on {rule.expires.isoformat()}; "
                "its findings are reported again"
            )
            continue
        active[rule.id] = rule
    return active, expired


def _date(value: Any, where: str, source: str | None) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidArgument(
        f"{where}.expires must be a date (2027-01-31), not {value!r}",
        location=Location(source) if source else None,
    )


def scan_policy_from(data: Any, source: str | None) -> ScanPolicy:
    """Validate and type the ``[scan]`` table."""
    loc = Location(source) if source else None
    if data is None:
        return ScanPolicy()
    if not isinstance(data, Mapping):
        raise InvalidArgument("[scan] must be a table", location=loc)
    # other [scan] keys belong to the other scanners' settings, read where they are used
    ignores = data.get("ignore", {})
    if not isinstance(ignores, Mapping):
        raise InvalidArgument("[scan.ignore] must be a table of vulnerability ids", location=loc)
    out: list[ScanIgnore] = []
    for vid, entry in ignores.items():
        where = f"scan.ignore.{vid}"
        if not isinstance(entry, Mapping):
            raise InvalidArgument(f"{where} must be a table with a reason", location=loc)
        extra = set(entry) - {"reason", "expires", "packages"}
        if extra:
            raise InvalidArgument(f"{where}: unknown key {sorted(extra)[0]}", location=loc,
                                  hint="keys: reason, expires, packages")  # fmt: skip
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise InvalidArgument(
                f"{where} has no reason",
                location=loc,
                hint='say why it is accepted: reason = "..."',
            )
        packages = entry.get("packages", [])
        if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
            raise InvalidArgument(
                f"{where}.packages must be a list of names or purls", location=loc
            )
        out.append(
            ScanIgnore(
                str(vid),
                reason.strip(),
                _date(entry.get("expires"), where, source),
                tuple(packages),
            )
        )
    return ScanPolicy(
        ignore=tuple(out),
        secrets=secret_policy_from(data.get("secrets"), source),
        misconfig=misconfig_policy_from(data.get("misconfig"), source),
        license=license_policy_from(data.get("license"), source),
        **_gate(data, loc),
    )


_SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def _gate(data: Mapping[str, Any], loc: Location | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    severity = data.get("severity")
    if severity is not None:
        names = severity.split(",") if isinstance(severity, str) else severity
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidArgument(
                "[scan] severity must be a list of severities", location=loc,
                hint=f"e.g. severity = [\"CRITICAL\", \"HIGH\"] (of {', '.join(_SEVERITIES)})",
            )  # fmt: skip
        upper = tuple(n.strip().upper() for n in names)
        unknown = [n for n in upper if n not in _SEVERITIES]
        if unknown:
            raise InvalidArgument(
                f"[scan] severity: unknown severity {unknown[0]}",
                location=loc,
                hint=f"use {', '.join(_SEVERITIES)}",
            )
        out["severity"] = upper
    cvss = data.get("min-cvss")
    if cvss is not None:
        if isinstance(cvss, bool) or not isinstance(cvss, int | float) or not 0 <= cvss <= 10:
            raise InvalidArgument("[scan] min-cvss must be a number from 0 to 10", location=loc)
        out["min_cvss"] = float(cvss)
    unfixed = data.get("ignore-unfixed")
    if unfixed is not None:
        if not isinstance(unfixed, bool):
            raise InvalidArgument("[scan] ignore-unfixed must be true or false", location=loc)
        out["ignore_unfixed"] = unfixed
    code = data.get("exit-code")
    if code is not None:
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise InvalidArgument("[scan] exit-code must be an integer from 0 to 255", location=loc)
        out["exit_code"] = code
    return out
