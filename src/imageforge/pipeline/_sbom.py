"""The SBOM of what a user named: a directory, or an image anywhere (store, transport,
registry)."""

from __future__ import annotations

from pathlib import Path

from imageforge.errors import NotFound
from imageforge.pipeline._lookup import open_image
from imageforge.pipeline._session import Session
from imageforge.sbom import DirFiles, Sbom, SourceInfo, generate

__all__ = ["sbom"]


def sbom(session: Session, target: str) -> Sbom:
    """The packages in ``target``: a directory when one of that name exists, else an
    image (a store name or ID, ``oci:``, ``oci-archive:``, ``docker-archive:``,
    ``docker://``). A target spelled as a path (``/``, ``./``, ``../``, ``~``) is never
    taken for an image."""
    path = Path(target)
    if path.is_dir():
        files = DirFiles(path)
        return generate(files, SourceInfo(kind="directory", name=target), progress=session.progress)
    if target.startswith(("/", "./", "../", "~")) or target == "..":
        # No image reference starts like this: a path was meant.
        what = "is not a directory" if path.exists() else "does not exist"
        raise NotFound(
            f"{target} {what}",
            hint="sbom reads a directory, or an image: a store name, oci:DIR[:TAG], "
            "oci-archive:FILE[:TAG], docker-archive:FILE[:NAME] or docker://REF",
        )
    with open_image(session, target) as found:
        source = SourceInfo(kind="image", name=found.name)
        return generate(found.image, source, progress=session.progress)
