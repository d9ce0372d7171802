"""The catalogers, one module per ecosystem, each behind :class:`~imageforge.sbom.Cataloger`.

:data:`ALL_CATALOGERS` is what ``imageforge sbom`` runs by default."""

from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom.catalogers._apk import ApkCataloger
from imageforge.sbom.catalogers._dpkg import DpkgCataloger
from imageforge.sbom.catalogers._rpm import RpmCataloger

__all__ = ["ALL_CATALOGERS", "ApkCataloger", "DpkgCataloger", "RpmCataloger"]

ALL_CATALOGERS: tuple[Cataloger, ...] = (DpkgCataloger(), ApkCataloger(), RpmCataloger())
