"""Output formats of a scan by name (``--format``): ``table``, ``json``, ``sarif``,
``cyclonedx`` (a CycloneDX 1.6 VDR) and ``openvex`` (VEX out)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

from rich.console import Console

from imageforge.scan._cyclonedx import to_cyclonedx_vdr
from imageforge.scan._json import to_json
from imageforge.scan._model import ScanReport
from imageforge.scan._openvex import to_openvex
from imageforge.scan._sarif import to_sarif_document
from imageforge.scan._table import print_table

__all__ = ["FORMATS", "render", "render_table"]


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def render_table(report: ScanReport, *, color: bool = False, width: int = 200) -> bytes:
    out = io.StringIO()
    console = Console(
        file=out,
        width=width,
        highlight=False,
        emoji=False,
        soft_wrap=False,
        color_system="standard" if color else None,
        force_terminal=color,
    )
    print_table(report, console)
    return out.getvalue().encode()


FORMATS: dict[str, Callable[[ScanReport], bytes]] = {
    "table": render_table,
    "json": lambda r: _dump(to_json(r)),
    "sarif": lambda r: _dump(to_sarif_document(r)),
    "cyclonedx": lambda r: to_cyclonedx_vdr(r).encode(),
    "openvex": lambda r: _dump(to_openvex(r)),
}


def render(report: ScanReport, fmt: str) -> bytes:
    """``report`` in format ``fmt`` (a key of :data:`FORMATS`)."""
    return FORMATS[fmt](report)
