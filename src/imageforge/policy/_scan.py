"""``[scan]`` of the policy file: the vulnerability suppressions a team keeps beside its
code, each with the reason it was accepted and, optionally, the day it stops applying.

```toml
[scan.ignore]
"CVE-2023-32681" = { reason = "no proxies are used", expires = 2027-01-31 }
"GHSA-jf85-cpcp-j695" = { reason = "defaultsDeep is never called", packages = ["lodash"] }
```

``packages`` (names or purls) narrows an entry to those packages; ``expires`` is a TOML
date (or ``YYYY-MM-DD``): on and after that day the entry no longer suppresses and the
scan warns about it."""

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
    """``[scan]``: vulnerability suppressions (``[scan.ignore]``) and the settings of the
    secret, image-configuration and licence scanners."""

    ignore: tuple[ScanIgnore, ...] = ()
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
    # other [scan] keys belong to the scan command's settings, read where they are used
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
    )
