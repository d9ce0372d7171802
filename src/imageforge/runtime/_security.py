"""``--security-opt``, as Docker and podman spell it: which seccomp profile a container
gets, and ``no-new-privileges`` (always on here, so only accepted)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import InvalidArgument

__all__ = ["Security", "parse_security_options"]


@dataclass(frozen=True)
class Security:
    """``seccomp`` is ``"default"`` (imageforge's profile, see ``_seccomp``),
    ``"unconfined"`` (no filter) or the path of a profile in Docker's format."""

    seccomp: str = "default"


def parse_security_options(values: Iterable[str]) -> Security:
    """``seccomp=unconfined|FILE`` and ``no-new-privileges[=true]`` (``:`` also
    separates, as Docker still accepts)."""
    seccomp = "default"
    for value in values:
        key, sep, arg = value.partition("=")
        if not sep:
            key, sep, arg = value.partition(":")
        if key == "seccomp" and arg:
            seccomp = arg if arg == "unconfined" else str(Path(arg).absolute())
        elif key == "no-new-privileges" and arg in ("", "true"):
            continue  # every container imageforge starts has it
        elif key == "no-new-privileges":
            raise InvalidArgument(
                f"--security-opt {value!r}: imageforge always sets no-new-privileges",
                hint="setuid programs cannot gain privileges in its containers; drop the option",
            )
        else:
            raise InvalidArgument(
                f"--security-opt {value!r} is not supported",
                hint="supported: seccomp=unconfined, seccomp=FILE (a profile in Docker's "
                "format), no-new-privileges",
            )
    return Security(seccomp=seccomp)
