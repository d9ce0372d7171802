"""Canonical JSON: the one byte form imageforge writes manifests, indexes and configs in,
so the same content always has the same digest (sorted keys, no insignificant
whitespace, UTF-8)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
