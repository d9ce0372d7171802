"""``--security-opt``, as Docker and podman spell it: which seccomp profile a container
gets, and ``no-new-privileges`` (always on here, so only accepted)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound

__all__ = ["Security", "parse_security_options"]


@dataclass(frozen=True)
class Security:
    """``seccomp`` is ``"default"`` (imageforge's profile, see ``_seccomp``),
    ``"unconfined"`` (no filter) or the path of a profile in Docker's format."""

    seccomp: str = "default"

    def cache_key(self) -> str:
        """What a build step's cache key takes from these options: a step run without a
        filter, or with another one, may have written something else. A profile file
        counts by its content."""
        if self.seccomp in ("default", "unconfined"):
            return f"seccomp={self.seccomp}"
        try:
            data = Path(self.seccomp).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"seccomp profile {self.seccomp} does not exist") from None
        except OSError as exc:
            raise InvalidArgument(
                f"cannot read seccomp profile {self.seccomp}: {exc.strerror}"
            ) from None
        return f"seccomp=sha256:{hashlib.sha256(data).hexdigest()}"


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
