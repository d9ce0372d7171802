"""Which network a RUN step gets: the command line decides, a Dockerfile only narrows
(pure; ``test_sandbox_build`` runs the builds)."""

from __future__ import annotations

import pytest

from imageforge.builder import step_network
from imageforge.errors import Denied

HOST = frozenset({"network.host"})


@pytest.mark.parametrize(
    ("requested", "command_line", "allow", "expected"),
    [
        (None, "private", frozenset(), "private"),
        ("default", "private", frozenset(), "private"),
        ("none", "private", frozenset(), "none"),
        ("none", "host", frozenset(), "none"),
        ("host", "private", HOST, "host"),
        ("host", "host", frozenset(), "host"),  # --network host was the explicit choice
        # --network none is a ceiling: nothing a Dockerfile says gives a step a network
        ("host", "none", HOST, "none"),
        ("host", "none", frozenset(), "none"),
        ("default", "none", frozenset(), "none"),
        (None, "host", frozenset(), "host"),
    ],
)
def test_step_network(
    requested: str | None, command_line: str, allow: frozenset[str], expected: str
) -> None:
    assert step_network(requested, command_line, allow, "Dockerfile:3") == expected


def test_host_network_needs_the_entitlement() -> None:
    with pytest.raises(Denied) as info:
        step_network("host", "private", frozenset(), "Dockerfile:3")
    assert info.value.message == (
        "Dockerfile:3: RUN --network=host needs the network.host entitlement, which this "
        "build was not given"
    )
    assert info.value.hint is not None and "--allow network.host" in info.value.hint
