"""The catalogers, one module per ecosystem, each behind :class:`~imageforge.sbom.Cataloger`:
dpkg, apk and rpm (OS packages); Python, npm, Go binaries, Java archives, Rust
(cargo-auditable) and Ruby (language packages).

:data:`ALL_CATALOGERS` is what ``imageforge sbom`` runs by default."""

from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom.catalogers._apk import ApkCataloger
from imageforge.sbom.catalogers._dpkg import DpkgCataloger
from imageforge.sbom.catalogers._go import GoCataloger
from imageforge.sbom.catalogers._java import JavaCataloger
from imageforge.sbom.catalogers._npm import NpmCataloger
from imageforge.sbom.catalogers._python import PythonCataloger
from imageforge.sbom.catalogers._rpm import RpmCataloger
from imageforge.sbom.catalogers._ruby import RubyCataloger
from imageforge.sbom.catalogers._rust import RustCataloger

__all__ = [
    "ALL_CATALOGERS",
    "ApkCataloger",
    "DpkgCataloger",
    "GoCataloger",
    "JavaCataloger",
    "NpmCataloger",
    "PythonCataloger",
    "RpmCataloger",
    "RubyCataloger",
    "RustCataloger",
]

ALL_CATALOGERS: tuple[Cataloger, ...] = (
    DpkgCataloger(),
    ApkCataloger(),
    RpmCataloger(),
    PythonCataloger(),
    NpmCataloger(),
    GoCataloger(),
    JavaCataloger(),
    RustCataloger(),
    RubyCataloger(),
)
