"""``build -`` (as ``docker build - < FILE``): the build context read from a stream. A
tar archive (plain, gzip, bzip2 or xz) is the whole context; anything else is the
Dockerfile alone, with an empty context.

The archive comes from whoever runs the build and is untrusted: it is unpacked with
``tarfile``'s ``data`` filter (Python's safe extraction: no absolute paths or ``..``, no
link leading outside the directory, no device files), and a member the filter refuses
fails the build naming it before anything is built. The members' own permission bits
are kept, as Docker's context keeps them for ``COPY`` (the filter would clear group and
other write bits and setuid): the directory they land in is the caller's, private."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import IO

from imageforge.errors import InvalidArgument

__all__ = ["context_from_stream"]

_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz


def _is_archive(head: bytes) -> bool:
    return head.startswith(_MAGIC) or head[257:262] == b"ustar"


def _keep_mode(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    """The ``data`` filter's checks, with the member's permission bits kept."""
    safe = tarfile.data_filter(member, path)
    if member.isreg() or member.isdir():
        return safe.replace(mode=member.mode & 0o7777, deep=False)
    return safe


def context_from_stream(stream: IO[bytes], directory: Path, *, what: str = "stdin") -> str | None:
    """Unpack the context tar ``stream`` holds into the empty ``directory`` (private to
    the caller); or, when the stream is not an archive, leave the directory empty and
    return its text (the Dockerfile)."""
    if isinstance(stream, io.BufferedReader):
        buffered = stream
    else:  # peek needs a buffered stream: a library caller's is read whole
        buffered = io.BufferedReader(io.BytesIO(stream.read()))
    head = buffered.peek(512)[:512]
    if not _is_archive(head):
        data = buffered.read()
        try:
            return data.decode()
        except UnicodeDecodeError:
            raise InvalidArgument(
                f"{what}: neither a tar archive nor a Dockerfile (not UTF-8 text)",
                hint="give a tar (gzip, bzip2 or xz compressed or not) or a Dockerfile",
            ) from None
    try:
        with tarfile.open(fileobj=buffered, mode="r|*") as tar:
            tar.extractall(directory, filter=_keep_mode)
    except tarfile.FilterError as exc:
        member = exc.tarinfo.name if exc.tarinfo is not None else "?"
        raise InvalidArgument(
            f"{what}: context archive member {member!r} refused: {exc}",
            hint="a build context may not hold absolute paths, '..', links leading out "
            "of it or device files",
        ) from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise InvalidArgument(f"{what}: the context archive cannot be read: {exc}") from None
    return None
