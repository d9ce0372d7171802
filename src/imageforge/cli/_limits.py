"""The resource-limit and confinement flags ``run`` and ``build`` share, spelled as Docker
(``run``) and buildah (``build``) spell them; parsed by ``runtime.parse_limits``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from imageforge.runtime import Limits, parse_limits

__all__ = ["build_limit_options", "limits_from", "run_limit_options"]

_F = Callable[..., Any]

_MEMORY = click.option(
    "-m",
    "--memory",
    metavar="SIZE",
    help="Memory limit (b, k, m, g as docker: 256m); past it the OOM killer ends the "
    "process, reported as 'killed: out of memory'.",
)
_CPUS = click.option("--cpus", metavar="N", help="CPUs the container may use (0.5: half a core).")
_PIDS = click.option(
    "--pids-limit", "pids_limit", metavar="N", help="Most processes at once (-1: unlimited)."
)


def build_limit_options(f: _F) -> _F:
    """``build --memory --cpus --pids-limit``: the limits of every RUN step."""
    return _MEMORY(_CPUS(_PIDS(f)))


def run_limit_options(f: _F) -> _F:
    """Docker's ``run`` resource and confinement flags."""
    options = [
        _MEMORY,
        click.option(
            "--memory-reservation", metavar="SIZE", help="Soft memory limit, below --memory."
        ),
        click.option(
            "--memory-swap",
            metavar="SIZE",
            help="Memory plus swap (as docker: -1 unlimited swap; unset: twice --memory).",
        ),
        _CPUS,
        click.option("--cpu-shares", metavar="N", help="Relative CPU weight (default 1024)."),
        click.option("--cpuset-cpus", metavar="LIST", help="CPUs to run on (0-1, 0,2)."),
        _PIDS,
        click.option(
            "--ulimit",
            "ulimits",
            multiple=True,
            metavar="NAME=SOFT[:HARD]",
            help="An rlimit (nofile=1024:2048); repeatable.",
        ),
        click.option("--read-only", is_flag=True, help="Mount the image's filesystem read-only."),
        click.option(
            "--tmpfs",
            "tmpfs",
            multiple=True,
            metavar="PATH[:OPTS]",
            help="Mount a tmpfs (noexec,nosuid,nodev unless OPTS say otherwise); repeatable.",
        ),
        click.option(
            "--cap-add", "cap_add", multiple=True, metavar="CAP", help="Add a capability (or ALL)."
        ),
        click.option(
            "--cap-drop",
            "cap_drop",
            multiple=True,
            metavar="CAP",
            help="Drop a capability (or ALL).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def limits_from(values: dict[str, Any]) -> Limits:
    """The :class:`Limits` of the limit flags in ``values`` (a command's keyword
    arguments; those a command does not take are absent)."""
    return parse_limits(
        memory=values.get("memory"),
        memory_reservation=values.get("memory_reservation"),
        memory_swap=values.get("memory_swap"),
        cpus=values.get("cpus"),
        cpu_shares=values.get("cpu_shares"),
        cpuset_cpus=values.get("cpuset_cpus"),
        pids_limit=values.get("pids_limit"),
        ulimits=values.get("ulimits", ()),
    )
