"""Shared helpers for the cataloger tests: run a cataloger over a directory as the SBOM
run would (only the files it wants), collecting its warnings."""

from __future__ import annotations

from pathlib import Path

from imageforge.sbom import Cataloger, DirFiles, Package


def run(cataloger: Cataloger, root: Path) -> tuple[list[Package], list[tuple[str, str]]]:
    """The packages ``cataloger`` finds under ``root`` and the warnings it gave."""
    warnings: list[tuple[str, str]] = []
    files = DirFiles(root)
    packages = list(cataloger.catalog(files, lambda path, msg: warnings.append((path, msg))))
    return packages, warnings


def write(root: Path, rel: str, content: str | bytes, mode: int | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    if mode is not None:
        path.chmod(mode)
    return path
