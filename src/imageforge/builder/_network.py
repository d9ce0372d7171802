"""Which network a RUN step gets: the command line decides, a Dockerfile can only
narrow it.

``build --network private|none|host`` sets every step's network (default ``private``).
``RUN --network=none`` narrows a step to no network; ``RUN --network=default`` is the
command line's. ``RUN --network=host`` widens, so it needs the ``network.host``
entitlement, given on the command line with ``--allow network.host`` as BuildKit has
it (or ``--network host`` itself); without it the build is refused before anything
runs, and under ``--network none`` the step gets no network at all.
"""

from __future__ import annotations

from collections.abc import Collection

from imageforge.errors import Denied

__all__ = ["ENTITLEMENTS", "NETWORK_HOST", "step_network"]

NETWORK_HOST = "network.host"
ENTITLEMENTS = (NETWORK_HOST,)


def step_network(
    requested: str | None, command_line: str, allow: Collection[str], where: str
) -> str:
    """The network of a RUN step that asked for ``requested`` (its ``--network``, or
    None) in a build run with ``--network command_line`` and ``--allow`` ``allow``."""
    if requested in (None, "default"):
        return command_line
    if requested == "none" or command_line == "none":
        return "none"
    if requested == "host" and command_line != "host" and NETWORK_HOST not in allow:
        raise Denied(
            f"{where}: RUN --network=host needs the network.host entitlement, which this "
            "build was not given",
            hint="if you trust this Dockerfile with the host's network (its services on "
            "127.0.0.1 included), build with --allow network.host",
        )
    return str(requested)
