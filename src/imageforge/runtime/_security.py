"""How a container is confined beyond its namespaces: ``--security-opt`` as Docker and
podman spell it (which seccomp profile, and ``no-new-privileges``, always on here, so only
accepted), ``--cap-add``/``--cap-drop`` and ``--read-only``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from imageforge.errors import InvalidArgument, NotFound
from imageforge.runtime._capabilities import container_capabilities

__all__ = ["Security", "parse_security_options"]


@dataclass(frozen=True)
class Security:
    """``seccomp`` is ``"default"`` (imageforge's profile, see ``_seccomp``),
    ``"unconfined"`` (no filter) or the path of a profile in Docker's format;
    ``cap_add``/``cap_drop`` change the default capability set as Docker's flags do
    (see ``_capabilities``); ``read_only`` mounts the rootfs read-only. Every process
    runs with no-new-privileges."""

    seccomp: str = "default"
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only: bool = False

    def __post_init__(self) -> None:
        self.capabilities()  # an unknown or unavailable capability is refused here

    def capabilities(self) -> tuple[str, ...]:
        """The capability set of the container's process."""
        return container_capabilities(self.cap_add, self.cap_drop)

    def cache_key(self) -> str:
        """What a build step's cache key takes from these options: a step run without a
        filter, or with another one, may have written something else. A profile file
        counts by its content; capabilities count when they are not the default set."""
        caps = (
            "" if not (self.cap_add or self.cap_drop) else ",caps=" + ":".join(self.capabilities())
        )
        return self._seccomp_key() + caps

    def _seccomp_key(self) -> str:
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


def parse_security_options(
    values: Iterable[str],
    *,
    cap_add: Iterable[str] = (),
    cap_drop: Iterable[str] = (),
    read_only: bool = False,
) -> Security:
    """``seccomp=unconfined|FILE`` and ``no-new-privileges[=true]`` (``:`` also
    separates, as Docker still accepts), with ``--cap-add``, ``--cap-drop`` and
    ``--read-only``."""
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
    return Security(
        seccomp=seccomp, cap_add=tuple(cap_add), cap_drop=tuple(cap_drop), read_only=read_only
    )
