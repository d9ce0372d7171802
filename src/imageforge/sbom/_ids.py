"""Package identifiers shared by every cataloger: package URLs (through
packageurl-python) and CPE 2.3 formatted strings (the CPE quoting rules are short and
have no maintained Python library, so they are written here)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from packageurl import PackageURL

__all__ = ["cpe", "cpes", "purl"]


def purl(
    type: str,
    name: str,
    version: str | None,
    *,
    namespace: str | None = None,
    qualifiers: Mapping[str, str] | None = None,
    subpath: str | None = None,
) -> str:
    """``pkg:type/namespace/name@version?qualifiers#subpath``, quoted as the purl
    spec says (empty qualifiers are dropped)."""
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return PackageURL(
        type=type,
        namespace=namespace or None,
        name=name,
        version=version or None,
        qualifiers=quals or None,
        subpath=subpath or None,
    ).to_string()


_CPE_SPECIAL = re.compile(r"([^A-Za-z0-9_.-])")


def _cpe_quote(value: str) -> str:
    value = value.strip().lower().replace(" ", "_")
    return _CPE_SPECIAL.sub(r"\\\1", value) if value else "*"


def cpe(vendor: str, product: str, version: str, *, target_sw: str = "*") -> str:
    """A CPE 2.3 formatted string for an application: ``cpe:2.3:a:vendor:product:
    version:*:*:*:*:target_sw:*:*``, each value lower-cased with spaces as ``_`` and
    the characters CPE reserves backslash-quoted."""
    fields = [_cpe_quote(vendor), _cpe_quote(product), _cpe_quote(version)]
    rest = ["*", "*", "*", "*", _cpe_quote(target_sw) if target_sw != "*" else "*", "*", "*"]
    return "cpe:2.3:a:" + ":".join(fields + rest)


def cpes(vendors: Iterable[str], products: Iterable[str], version: str) -> tuple[str, ...]:
    """Every vendor x product candidate, deduplicated, in a stable order."""
    out: dict[str, None] = {}
    products = list(dict.fromkeys(p for p in products if p))
    for vendor in dict.fromkeys(v for v in vendors if v):
        for product in products:
            out[cpe(vendor, product, version)] = None
    return tuple(out)
