"""The catalogers, one module per ecosystem, each a :class:`~imageforge.sbom.Cataloger`:
Python, npm, Go binaries, Java archives, Rust (cargo-auditable) and Ruby.
``ALL_CATALOGERS`` is the list the SBOM run uses by default."""

from imageforge.sbom._cataloger import Cataloger
from imageforge.sbom.catalogers._go import GoCataloger
from imageforge.sbom.catalogers._java import JavaCataloger
from imageforge.sbom.catalogers._npm import NpmCataloger
from imageforge.sbom.catalogers._python import PythonCataloger
from imageforge.sbom.catalogers._ruby import RubyCataloger
from imageforge.sbom.catalogers._rust import RustCataloger

__all__ = [
    "ALL_CATALOGERS",
    "GoCataloger",
    "JavaCataloger",
    "NpmCataloger",
    "PythonCataloger",
    "RubyCataloger",
    "RustCataloger",
]

ALL_CATALOGERS: list[Cataloger] = [
    PythonCataloger(),
    NpmCataloger(),
    GoCataloger(),
    JavaCataloger(),
    RustCataloger(),
    RubyCataloger(),
]
