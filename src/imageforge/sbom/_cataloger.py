"""The cataloger seam: one small module per ecosystem, each behind :class:`Cataloger`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from imageforge.sbom._files import FileInfo, Files, Warn
from imageforge.sbom._model import Package

__all__ = ["Cataloger"]


class Cataloger(Protocol):
    """Finds one ecosystem's packages.

    ``wants`` selects, from path and metadata alone, the files ``catalog`` will read
    (it must be cheap: it is asked for every path of the view). ``catalog`` receives a
    :class:`Files` whose reads are served from that selection (``info`` works for any
    path) and yields packages; a file it cannot parse is reported through ``warn``
    with the cause, and the cataloger goes on with the next file — it never raises for
    bad content."""

    name: str

    def wants(self, info: FileInfo) -> bool: ...

    def catalog(self, files: Files, warn: Warn) -> Iterable[Package]: ...
