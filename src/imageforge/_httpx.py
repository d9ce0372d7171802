"""httpx, imported without its command-line client.

``import httpx`` also imports ``httpx._main`` (the ``httpx`` command's code) whenever
click, rich and pygments are installed -- and imageforge depends on all three -- which
loads rich's progress, table and syntax modules and pygments' lexers: about 40 ms of a
registry command's start, for a module no imageforge code uses. httpx treats that
module as optional (an ``ImportError`` leaves ``httpx.main`` a stub saying what to
install), so it is made unimportable while httpx is first imported, then importable
again. Where httpx was already imported (by a program using imageforge as a library),
nothing changes.

Import httpx through here: ``from imageforge._httpx import httpx``.
"""

from __future__ import annotations

import sys

__all__ = ["httpx"]

_CLI = "httpx._main"


def _import_without_cli() -> None:
    if "httpx" in sys.modules or _CLI in sys.modules:
        return
    sys.modules[_CLI] = None  # type: ignore[assignment]  # an import of it fails at once
    try:
        import httpx  # noqa: F401
    finally:
        if sys.modules.get(_CLI, _CLI) is None:
            del sys.modules[_CLI]


_import_without_cli()

import httpx  # noqa: E402
