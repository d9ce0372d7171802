"""The SBOM of what a user named: a directory, or an image anywhere (store, transport,
registry)."""

from __future__ import annotations

from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound
from imageforge.oci import Platform
from imageforge.pipeline._lookup import open_image
from imageforge.pipeline._session import Session
from imageforge.sbom import DirFiles, Sbom, SourceInfo, generate

__all__ = ["directory_target", "refuse_platform", "sbom"]


_IMAGES = (
    "a store name, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME] or "
    "docker://REF"
)


def directory_target(target: str, command: str = "sbom") -> Path | None:
    """The directory ``target`` names, or None when it names an image. A target spelled
    as a path (``/``, ``./``, ``../``, ``~``) is never taken for an image: one that is no
    directory is :class:`~imageforge.errors.NotFound` (``command`` says who asked)."""
    path = Path(target)
    if path.is_dir():
        return path
    if target.startswith(("/", "./", "../", "~")) or target == "..":
        # No image reference starts like this: a path was meant.
        what = "is not a directory" if path.exists() else "does not exist"
        raise NotFound(
            f"{target} {what}", hint=f"{command} reads a directory, or an image: {_IMAGES}"
        )
    return None


def refuse_platform(platform: Platform | None, target: str, what: str) -> None:
    """A platform picks one image of an index: given for ``target``, which is ``what``
    (a directory, an SBOM file), it is refused rather than ignored."""
    if platform is not None:
        raise InvalidArgument(
            f"{target} is {what}, not an image: --platform {platform} has nothing to pick",
            hint="--platform picks one image of a multi-platform index; leave it out",
        )


def sbom(session: Session, target: str, platform: Platform | None = None) -> Sbom:
    """The packages in ``target``: a directory when one of that name exists, else an
    image (a store name or ID, ``oci:``, ``oci-archive:``, ``docker-archive:``,
    ``docker://``; an index's image for ``platform``, see
    :func:`~imageforge.pipeline.image_for_platform`); see :func:`directory_target`."""
    path = directory_target(target)
    if path is not None:
        refuse_platform(platform, target, "a directory")
        files = DirFiles(path)
        return generate(files, SourceInfo(kind="directory", name=target), progress=session.progress)
    with open_image(session, target, platform) as found:
        source = SourceInfo(kind="image", name=found.name)
        return generate(found.image, source, progress=session.progress)
